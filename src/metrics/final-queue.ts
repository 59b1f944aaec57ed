import { Fifo } from './fifo.ts';

/**
 * The pending-final-readings queue: bounded, multi-consumer. Every consumer (one per reader)
 * has its own cursor, so each final reading reaches each consumer, and a second scraper sees
 * what the first took. The cursor moves only when the consumer acknowledges what it took
 * (advance), so a take that was never delivered is taken again; an entry is freed once every
 * registered consumer has acknowledged it.
 */
export interface QueueConsumer {
  /** Sequence number of the next entry this consumer has not acknowledged. */
  cursor: number;
  /** Entries dropped (queue full) before this consumer acknowledged them: readings it never got. */
  dropped: number;
}

export class FinalQueue<T> {
  private readonly items = new Fifo<T>();
  /** Sequence number of the oldest entry. */
  private firstSeq = 0;
  private readonly consumers = new Set<QueueConsumer>();
  /** Entries dropped because the queue was full, since creation. */
  dropped = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  get nextSeq(): number {
    return this.firstSeq + this.items.length;
  }

  push(item: T): void {
    if (this.items.length >= this.capacity) {
      // Lost only for the consumers that had not acknowledged it: a reader that got it lost nothing.
      for (const c of this.consumers) if (c.cursor <= this.firstSeq) c.dropped++;
      this.items.shift();
      this.firstSeq++;
      this.dropped++;
    }
    this.items.push(item);
  }

  /** A new consumer starts with every entry still pending. */
  register(): QueueConsumer {
    const c = { cursor: this.firstSeq, dropped: 0 };
    this.consumers.add(c);
    return c;
  }

  unregister(c: QueueConsumer): void {
    this.consumers.delete(c);
    this.trim();
  }

  /**
   * The entries this consumer has not taken yet, oldest first. `accept` may stop the walk
   * (return false) to leave the rest for the consumer's next take.
   */
  peek(c: QueueConsumer, accept: (item: T) => boolean): number {
    let seq = Math.max(c.cursor, this.firstSeq);
    const end = this.nextSeq;
    for (; seq < end; seq++) {
      if (!accept(this.items.at(seq - this.firstSeq) as T)) break;
    }
    return seq;
  }

  /**
   * Acknowledges the entries before `seq` for `c`, and frees what every consumer has
   * acknowledged. The cursor never moves back: an older acknowledgement after a newer one
   * changes nothing.
   */
  advance(c: QueueConsumer, seq: number): void {
    if (seq <= c.cursor) return;
    c.cursor = seq;
    this.trim();
  }

  /** Entries `c` has not acknowledged that are still queued. */
  pendingFor(c: QueueConsumer): number {
    return this.nextSeq - Math.max(c.cursor, this.firstSeq);
  }

  private trim(): void {
    if (this.consumers.size === 0) return; // nobody has read them yet: keep (bounded)
    let min = Infinity;
    for (const c of this.consumers) min = Math.min(min, c.cursor);
    while (this.firstSeq < min && this.items.length > 0) {
      this.items.shift();
      this.firstSeq++;
    }
  }
}
