import { performance } from 'node:perf_hooks';
import { nextLoopTurn as yieldToLoop } from '../loop-turn.ts';
import type { DeviceNames } from './devices.ts';
import { FileReader } from './file-reader.ts';
import type { FileBudget } from './kept-files.ts';
import type { NetnsRegistry } from './netns.ts';
import { readStats, type ReadOptions, type ReadState } from './read.ts';
import type { MetricGroup, ReadResult, TaskCgroup } from './types.ts';

export interface CycleTask {
  cgroup: TaskCgroup;
  state: ReadState;
}

export interface CycleOptions {
  /** Absolute deadline (performance.now() clock): tasks not read by then are left out. */
  deadline?: number;
  /** Longest stretch of synchronous reads before yielding to the event loop. */
  sliceMs?: number;
  reader?: FileReader;
  /** Names block devices in disk rows (default: the host's /sys). */
  deviceNames?: DeviceNames;
  /** Keeps the tasks' files open within this budget (see kept-files.ts). */
  keep?: FileBudget;
  /** Reads the tasks' network namespaces (see netns.ts). */
  netns?: NetnsRegistry;
}

export interface CycleResult {
  /** Aligned with the input: undefined where the deadline came first. */
  results: Array<ReadResult | undefined>;
  /** How many tasks the deadline cut off. */
  timedOut: number;
  /** Wall time of the cycle, ms. */
  durationMs: number;
}

/**
 * Reads many cgroups with synchronous reads (the fast path, see file-reader.ts) cut into slices of
 * `sliceMs`, yielding to the event loop between slices so that a 1000-task cycle never stalls
 * a process for more than one slice. The deadline is checked between tasks.
 */
export async function readCycle(tasks: readonly CycleTask[], groups: ReadonlySet<MetricGroup>, opts: CycleOptions = {}): Promise<CycleResult> {
  const sliceMs = opts.sliceMs ?? 5;
  const deadline = opts.deadline ?? Infinity;
  const start = performance.now();
  const results = new Array<ReadResult | undefined>(tasks.length);
  const reader = opts.reader ?? cycleReader;
  const readOptions: ReadOptions = { reader, deviceNames: opts.deviceNames, keep: opts.keep, netns: opts.netns };
  let sliceStart = start;
  let i = 0;
  let aheadTo = 0;
  try {
    for (; i < tasks.length; i++) {
      const now = performance.now();
      if (now >= deadline) break;
      if (now - sliceStart >= sliceMs) {
        reader.resetAhead(); // a task may change while the loop runs
        aheadTo = i;
        await yieldToLoop();
        sliceStart = performance.now();
        if (sliceStart >= deadline) break;
      }
      if (i >= aheadTo && reader.direct) aheadTo = readAhead(tasks, i, reader);
      const t = tasks[i] as CycleTask;
      results[i] = readStats(t.cgroup, groups, t.state, readOptions);
    }
  } finally {
    reader.resetAhead();
  }
  return { results, timedOut: tasks.length - i, durationMs: performance.now() - start };
}

/** Tasks whose kept files are read ahead together (see FileReader.reserveAhead). */
const AHEAD_TASKS = 8;
const cycleReader = new FileReader();

/** Reads ahead the kept files of the next AHEAD_TASKS tasks from `from`: where the next batch starts. */
function readAhead(tasks: readonly CycleTask[], from: number, reader: FileReader): number {
  reader.resetAhead();
  const to = Math.min(tasks.length, from + AHEAD_TASKS);
  for (let k = from; k < to; k++) {
    const state = (tasks[k] as CycleTask).state;
    const kept = state.kept;
    if (kept === undefined || state.ended || kept.length === 0) continue;
    kept.rewind();
    kept.readAhead(reader);
  }
  return to;
}
