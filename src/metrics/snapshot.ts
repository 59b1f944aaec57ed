import type { Attributes } from '@opentelemetry/api';
import type { CgroupStats, ReadResult } from '../cgroup/types.ts';

/**
 * Where a task is in its life. `live`: registered, read at every collection. `stopped`: out of
 * the registry through stop() or the vanished-cgroup policy; its final reading is queued, on
 * its way, or (source `none`) there is none. `removed`: out through remove(), no final reading.
 * A task leaves `live` once and never comes back: a re-added id is a new task.
 */
export type TaskLifecycle = 'live' | 'stopped' | 'removed';

/** What a snapshot shows of a task: who it is, never the engine's bookkeeping. */
export interface TaskView {
  readonly id: string;
  readonly namespace: string;
  /** (namespace, id) as one string: equal keys are the same series identity. */
  readonly key: string;
  /** Unique per add(): a re-added id is a new incarnation with its own series start time. */
  readonly incarnation: number;
  /** Point attributes shared by every point of the task: extras, then container.id/namespace. */
  readonly attributes: Attributes;
  /** When the task started, ms since the epoch: the start time of its cumulative series. */
  readonly startTimeMs: number;
  readonly lifecycle: TaskLifecycle;
}

/** Where a final reading came from: read at stop(), the last reading taken before (young or periodic: StopResult.lastKnown), or nothing at all. */
export type FinalSource = 'read' | 'last-known' | 'none';

/** Where a `last-known` final reading came from: a young-task reading (the first one at add() included) or a collection's. */
export type LastKnownSource = 'young' | 'periodic';

/** Final readings by where they came from: read at stop, a young-task reading, a collection's reading, none at all. */
export interface FinalSourceCounts {
  readonly read: number;
  readonly young: number;
  readonly periodic: number;
  readonly none: number;
}

/** A stopped task's last reading, delivered once to every consumer. */
export interface FinalReading {
  readonly task: TaskView;
  readonly stats: CgroupStats;
  /** When it was taken, ms since the epoch. */
  readonly timeMs: number;
  readonly source: Exclude<FinalSource, 'none'>;
}

/** A registered task's reading from this collection. */
export interface LiveReading {
  readonly task: TaskView;
  readonly result: ReadResult;
}

/** The engine's own figures at one collection: the self metrics' values. */
export interface SelfSnapshot {
  readonly startTimeMs: number;
  readonly timeMs: number;
  readonly tasks: number;
  readonly collectionDurationS: number;
  /** Failed reads since start, by error type. */
  readonly errors: ReadonlyMap<string, number>;
  /** Failed metadata lookups since start, keyed `<source>\0<error type>`. */
  readonly metadataErrors: ReadonlyMap<string, number>;
  /** Failed exports since start, by exporter (otlp, console). */
  readonly exportFailures: ReadonlyMap<string, number>;
  /** Watches discovery could not set since start, by error type (EMFILE, ENFILE, ENOSPC, ...). */
  readonly discoveryErrors: ReadonlyMap<string, number>;
  readonly pending: number;
  readonly dropped: number;
  readonly missed: number;
  /** Final readings since start by where they came from (every stop counts once). */
  readonly finalSources: FinalSourceCounts;
  /** Cgroup files kept open now, the most that may be (0: none are kept), and the tasks that keep theirs. */
  readonly keptFiles: { readonly open: number; readonly limit: number; readonly tasks: number };
}

/**
 * What one collection carried, for SnapshotConsumer.acknowledge(). Until it is acknowledged
 * (or a later receipt of the same consumer is), its final readings go out again with that
 * consumer's next collection.
 */
export interface DeliveryReceipt {
  /** How many final readings the collection carried. */
  readonly finals: number;
}

/** What one consumer gets from one collection. */
export interface Snapshot {
  /** Final readings for this consumer, oldest first, at most one per (namespace, id). */
  readonly finals: readonly FinalReading[];
  /** Live readings of registered tasks (none for tasks whose final reading is in `finals`). */
  readonly live: readonly LiveReading[];
  readonly self: SelfSnapshot;
  /** Acknowledge it once what carried this collection arrived; until then `finals` stay pending for this consumer. */
  readonly delivery: DeliveryReceipt;
}
