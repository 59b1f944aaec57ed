import type { MetricDefinition } from './catalog.ts';
import type { Snapshot } from './snapshot.ts';

/**
 * What a delivery path (the producer, the observable instruments) needs from the engine:
 * the catalog rows it exports, and a consumer of its collections. The paths depend on this,
 * never on the engine itself.
 */
export interface SnapshotSource {
  readonly definitions: readonly MetricDefinition[];
  /** A new consumer: it gets every final reading queued from now on, and those still pending. */
  openConsumer(): SnapshotConsumer;
}

/** One reader's view of the engine: its own cursor into the final-readings queue. */
export interface SnapshotConsumer {
  /**
   * One collection: a read of every live task (shared with any collection in flight) and this
   * consumer's pending final readings. Never rejects; resolves by the deadline (`timeoutMs`,
   * else the engine's collectTimeoutMs) with what was read by then.
   */
  snapshot(timeoutMs?: number): Promise<Snapshot>;
  /** Stops taking final readings: the queue no longer keeps them for this consumer. Idempotent. */
  close(): void;
}
