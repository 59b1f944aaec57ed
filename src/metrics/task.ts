import type { Attributes } from '@opentelemetry/api';
import { newReadState, type ReadState } from '../cgroup/read.ts';
import { withLateDirs } from '../cgroup/resolve.ts';
import type { CgroupStats, TaskCgroup } from '../cgroup/types.ts';
import type { LastKnownSource, TaskLifecycle, TaskView } from './snapshot.ts';

/** What annotate() changes. */
export interface TaskAnnotation {
  /** Replaces the previous annotation's attributes (add()'s own stay). */
  readonly attributes?: Attributes;
  /** ms since the epoch. */
  readonly startTimeMs?: number;
}

/** How a task leaves `live`. */
export type TaskEnd = Exclude<TaskLifecycle, 'live'>;

let nextIncarnation = 1;

/** One registered task: one incarnation of a (namespace, id) pair, and the engine's bookkeeping for it. */
export class Task implements TaskView {
  readonly incarnation = nextIncarnation++;
  readonly key: string;
  /** The attributes given to add(): they stay under every annotation. */
  private readonly extra: Attributes | undefined;
  private attributesValue: Attributes;
  private startTimeValue: number;
  /** What the reader remembers between reads of this cgroup (absent files, the v1 CPU split). */
  readonly state: ReadState = newReadState();
  /** The engine's own copy: what the caller passed to add() is never written to, nor read again. */
  private cgroupValue: TaskCgroup;
  private lifecycleValue: TaskLifecycle = 'live';
  /** The last successful reading: what stop() falls back to when the cgroup is already gone. */
  lastStats: CgroupStats | undefined;
  lastTimeMs = 0;
  /** Where lastStats came from: a young-task reading (add()'s first one included) or a collection's. */
  lastSource: LastKnownSource | undefined;
  /** The cgroup's disappearance was counted; cleared when a reading finds it again. */
  goneReported = false;
  /** Callers of CgroupMetrics.recordFiles() waiting for the files of the task's next first or young reading. */
  private fileWaiters: Array<(files: readonly string[] | undefined) => void> | undefined;

  constructor(
    readonly id: string,
    readonly namespace: string,
    cgroup: TaskCgroup,
    startTimeMs: number,
    extra: Attributes | undefined,
  ) {
    this.key = taskKey(namespace, id);
    this.extra = extra;
    this.attributesValue = this.withIdentity(undefined);
    this.startTimeValue = startTimeMs;
    this.cgroupValue = cgroup;
  }

  get attributes(): Attributes {
    return this.attributesValue;
  }

  get startTimeMs(): number {
    return this.startTimeValue;
  }

  /**
   * Names learnt after add() (a runtime's answer): the attributes of every later point, a
   * pending final reading's included, are add()'s, then these, then container.id/namespace,
   * which nothing overrides. `startTimeMs` moves the start of the task's cumulative series and
   * of its uptime.
   */
  annotate(update: TaskAnnotation): void {
    if (update.attributes) this.attributesValue = this.withIdentity(update.attributes);
    if (update.startTimeMs !== undefined && Number.isFinite(update.startTimeMs)) this.startTimeValue = update.startTimeMs;
  }

  private withIdentity(learnt: Attributes | undefined): Attributes {
    return { ...this.extra, ...learnt, 'container.id': this.id, 'container.namespace': this.namespace };
  }

  get cgroup(): TaskCgroup {
    return this.cgroupValue;
  }

  get lifecycle(): TaskLifecycle {
    return this.lifecycleValue;
  }

  /**
   * Leaves `live` for good: `stopped` (stop(), a vanished cgroup) or `removed` (remove()).
   * False when it had already left. Only the registry calls it, as it unregisters the task.
   */
  end(as: TaskEnd): boolean {
    if (this.lifecycleValue !== 'live') return false;
    this.lifecycleValue = as;
    this.filesRead(undefined); // no reading of it is to come
    return true;
  }

  /** Resolves with the files of the task's next first or young reading (undefined: none came, or it failed). */
  awaitFiles(): Promise<readonly string[] | undefined> {
    const waiters = this.fileWaiters ?? [];
    this.fileWaiters = waiters;
    return new Promise((resolve) => waiters.push(resolve));
  }

  /** Whether a reading should note its files (someone awaits them). */
  get wantsFiles(): boolean {
    return this.fileWaiters !== undefined;
  }

  /** A reading noted its files (undefined: it failed): every awaitFiles() resolves with them. */
  filesRead(files: readonly string[] | undefined): void {
    const waiters = this.fileWaiters;
    this.fileWaiters = undefined;
    for (const w of waiters ?? []) w(files);
  }

  /**
   * Keeps a successful reading as the fallback final reading, unless a fresher one is kept
   * already (a young-task reading taken while a collection was still reading other tasks).
   */
  remember(stats: CgroupStats, timeMs: number, source: LastKnownSource): void {
    if (this.lastStats && timeMs < this.lastTimeMs) return;
    this.lastStats = stats;
    this.lastTimeMs = timeMs;
    this.lastSource = source;
  }

  /**
   * v1 and hybrid hosts: directories of the same cgroup that appeared after add() (runtimes make
   * the task's directory in one hierarchy after another, the cgroup2 twin last), read from now on.
   * Only what the task lacks is taken; true when something was. A v2 cgroup has nothing to add.
   */
  attachDirs(later: TaskCgroup): boolean {
    const next = withLateDirs(this.cgroupValue, later);
    if (next) this.cgroupValue = next;
    return next !== undefined;
  }
}

export function taskKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}
