/** The messages between the main thread and the reading thread (thread-reader.ts, read-worker.ts). */
import type { MessagePort } from 'node:worker_threads';
import type { CapturedFiles } from './captured.ts';
import type { CpuSplit } from './cpu-split.ts';
import type { MetricGroup, ReadResult, TaskCgroup } from './types.ts';

/** What the main thread sends. */
export type ToReader =
  | { t: 'add'; inc: number; cgroup: TaskCgroup; split?: CpuSplit }
  | { t: 'attach'; inc: number; cgroup: TaskCgroup }
  | { t: 'end'; inc: number }
  | { t: 'release'; inc: number }
  | { t: 'one'; seq: number; inc: number; record?: boolean; captured?: CapturedFiles }
  | { t: 'cycle'; seq: number; incs: number[]; deadlineEpochMs: number };

/** One read as it comes back: the result and the task's v1 CPU split after it. */
export type ReadItem = [inc: number, result: ReadResult | null, split: CpuSplit | undefined];

/** What the reading thread answers. */
export type FromReader =
  | { t: 'one'; seq: number; item: ReadItem }
  | { t: 'chunk'; seq: number; items: ReadItem[] }
  | { t: 'done'; seq: number; items: ReadItem[]; timedOut: number; durationMs: number; kept: { open: number; limit: number; tasks: number } }
  | { t: 'retired'; inc: number };

export interface ReaderData {
  port: MessagePort;
  /** Int32Array over it: [0] the incarnation being read (0: none), [1] reads done, [2] 1: retire when back. */
  progress: SharedArrayBuffer;
  groups: MetricGroup[];
  keepLimit: number;
  sliceMs: number;
  network: boolean;
}

export const PROGRESS_INC = 0;
export const PROGRESS_DONE = 1;
export const PROGRESS_RETIRE = 2;
