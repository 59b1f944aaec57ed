import type { Attributes } from '@opentelemetry/api';
import { newReadState, type ReadState } from '../cgroup/read.ts';
import type { CgroupStats, TaskCgroup } from '../cgroup/types.ts';

let nextIncarnation = 1;

/** One registered task: one incarnation of a (namespace, id) pair. */
export class Task {
  /** Unique per add(): a re-added id is a new incarnation with its own series start time. */
  readonly incarnation = nextIncarnation++;
  readonly key: string;
  /** Point attributes shared by every point of the task: extras, then container.id/namespace. */
  readonly attributes: Attributes;
  readonly state: ReadState = newReadState();
  /** The last successful reading: what stop() falls back to when the cgroup is already gone. */
  lastStats: CgroupStats | undefined;
  lastTimeMs = 0;
  /** The cgroup vanished and that was counted once; reset if it comes back. */
  goneReported = false;
  /** stop() or remove() was called: its live readings are no longer exported. */
  ended = false;
  /** stop() was called: a final reading is (or was) on its way. */
  stopping = false;

  constructor(
    readonly id: string,
    readonly namespace: string,
    readonly cgroup: TaskCgroup,
    readonly startTimeMs: number,
    extra: Attributes | undefined,
  ) {
    this.key = taskKey(namespace, id);
    this.attributes = { ...extra, 'container.id': id, 'container.namespace': namespace };
  }
}

export function taskKey(namespace: string, id: string): string {
  return `${namespace}\u0000${id}`;
}

/** Where a final reading came from: read at stop(), the last periodic reading, or nothing at all. */
export type FinalSource = 'read' | 'last-known' | 'none';

export interface FinalReading {
  task: Task;
  stats: CgroupStats;
  timeMs: number;
  source: Exclude<FinalSource, 'none'>;
}
