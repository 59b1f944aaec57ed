import type { MetricDefinition } from './catalog.ts';
import type { DeliveryReceipt, Snapshot } from './snapshot.ts';

/**
 * What a delivery path (the producer, the observable instruments) needs from the engine:
 * the catalog rows it exports, and a consumer of its collections. The paths depend on this,
 * never on the engine itself.
 */
export interface SnapshotSource {
  readonly definitions: readonly MetricDefinition[];
  /** A new consumer: it gets every final reading queued from now on, and those still pending. */
  openConsumer(options?: ConsumerOptions): SnapshotConsumer;
}

export interface ConsumerOptions {
  /**
   * `auto` (default): each collection's final readings count as delivered when it resolves.
   * `manual`: only once acknowledge() is called with its receipt; until then they come again
   * with every snapshot() of this consumer.
   */
  acknowledge?: 'auto' | 'manual';
}

/**
 * One reader's view of the engine: its own cursor into the final-readings queue, which moves
 * only when the reader acknowledges a collection, so a final reading whose delivery failed
 * goes out again.
 */
export interface SnapshotConsumer {
  /**
   * One collection: a read of every live task (shared with any collection in flight) and this
   * consumer's unacknowledged final readings. Never rejects; resolves by the deadline
   * (`timeoutMs`, else the engine's collectTimeoutMs) with what was read by then.
   */
  snapshot(timeoutMs?: number): Promise<Snapshot>;
  /**
   * Marks the final readings of the collection that returned `receipt` (and of every earlier
   * one) as delivered to this consumer: they never come again. An older receipt after a newer
   * one changes nothing, and so does any receipt once the consumer is closed. Throws
   * ForeignReceiptError for a receipt of another consumer.
   */
  acknowledge(receipt: DeliveryReceipt): void;
  /** Final readings still queued that this consumer has not acknowledged. */
  readonly pending: number;
  /** Stops taking final readings: the queue no longer keeps them for this consumer. Idempotent. */
  close(): void;
}
