import type { Task } from './task.ts';

/** What happens when a registered task's cgroup disappears: see CgroupMetricsOptions.onGone. */
export type OnGone = 'report' | 'stop';

export interface VanishedActions {
  /** Counts one read error of `type`. */
  countError(type: string): void;
  /** Stops the task with its last periodic reading as the final one. */
  stop(task: Task): void;
}

/**
 * The vanished-cgroup policy. A disappearance is counted once (an ENOENT read error), not at
 * every collection for as long as the task stays registered, and counted again only after a
 * reading found the cgroup back. With `stop`, the task is also stopped: nobody else will.
 */
export class VanishedCgroupPolicy {
  constructor(
    private readonly onGone: OnGone,
    private readonly actions: VanishedActions,
  ) {}

  /** A periodic reading found the task's cgroup present (`gone` false) or gone. */
  observe(task: Task, gone: boolean): void {
    if (!gone) {
      task.goneReported = false;
      return;
    }
    if (!task.goneReported) {
      task.goneReported = true;
      this.actions.countError('ENOENT');
    }
    if (this.onGone === 'stop') this.actions.stop(task);
  }
}
