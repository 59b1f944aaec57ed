import type { DeviceNames } from './devices.ts';
import type { FileBudget } from './kept-files.ts';
import type { NetnsRegistry } from './netns.ts';
import { readCycle, type CycleResult } from './read-cycle.ts';
import { readOne, type OneReadOptions } from './read-one.ts';
import { endReadState, type ReadState } from './read.ts';
import type { MetricGroup, ReadResult, TaskCgroup } from './types.ts';

/** A task as a reader sees it: its identity, its directories and what its reads remember. */
export interface ReaderTask {
  /** Unique for the life of the process: the reader's key. */
  readonly incarnation: number;
  readonly cgroup: TaskCgroup;
  /** Inline: the state itself; on a reading thread, where the v1 CPU split is kept between threads. */
  readonly state: ReadState;
}

/** Kept-file figures for the self metrics. */
export interface KeptCounts {
  open: number;
  limit: number;
  tasks: number;
}

/**
 * Where the engine's reads run. Inline: synchronously on the calling thread, in slices
 * (read-cycle.ts). On a reading thread (thread-reader.ts): off the event loop, so that a read
 * the kernel blocks cannot hold the process.
 */
export interface TaskReader {
  /** A task to read from now on. */
  add(task: ReaderTask): void;
  /** The task's cgroup gained directories (attachDirs). */
  attach(task: ReaderTask): void;
  /** The task ended: its files close, its namespace is released; it is not read again. */
  end(task: ReaderTask): void;
  /** Reads `tasks` by `deadline` (performance.now() clock); aligned results, undefined where not read. */
  cycle(tasks: readonly ReaderTask[], deadline: number): Promise<CycleResult>;
  /** One read (a first, young or final reading); undefined when it could not be taken (a stuck reader). */
  one(task: ReaderTask, how?: OneReadOptions): Promise<ReadResult | undefined>;
  /** Releases the task's kept files (its cgroup was found gone; it stays registered). */
  release(task: ReaderTask): void;
  kept(): KeptCounts;
  /** Readers abandoned while stuck in the kernel, not yet back. */
  readonly stuck: number;
  close(): Promise<void>;
}

export interface InlineReaderOptions {
  groups: ReadonlySet<MetricGroup>;
  sliceMs: number;
  deviceNames?: DeviceNames;
  keep?: FileBudget;
  netns?: NetnsRegistry;
}

/** Today's reads: synchronous, on the caller's thread, the deadline checked between tasks. */
export class InlineReader implements TaskReader {
  readonly stuck = 0;

  constructor(private readonly o: InlineReaderOptions) {}

  add(): void {}

  attach(): void {}

  end(task: ReaderTask): void {
    endReadState(task.state);
  }

  release(task: ReaderTask): void {
    task.state.kept?.release();
  }

  cycle(tasks: readonly ReaderTask[], deadline: number): Promise<CycleResult> {
    return readCycle(tasks, this.o.groups, { deadline, sliceMs: this.o.sliceMs, deviceNames: this.o.deviceNames, keep: this.o.keep, netns: this.o.netns });
  }

  one(task: ReaderTask, how?: OneReadOptions): Promise<ReadResult | undefined> {
    return Promise.resolve(readOne(task.cgroup, this.o.groups, task.state, { deviceNames: this.o.deviceNames, keep: this.o.keep, netns: this.o.netns }, how));
  }

  kept(): KeptCounts {
    const k = this.o.keep;
    return { open: k?.open ?? 0, limit: k?.limit ?? 0, tasks: k?.tasks ?? 0 };
  }

  async close(): Promise<void> {}
}
