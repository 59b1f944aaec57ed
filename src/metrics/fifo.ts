/** Taken slots at the front beyond which the array is compacted (when they are also more than half of it). */
const COMPACT_AFTER = 1024;

/**
 * A first-in first-out array with O(1) amortised take from the front. A taken slot is
 * cleared at once, so the queue never keeps a taken item alive; the array is copied down
 * only when the taken slots are both over COMPACT_AFTER and more than half of it, so each
 * item is copied at most once on average and memory stays within twice what is queued.
 */
export class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;

  /** Items queued now. */
  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Takes the oldest item; undefined when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > COMPACT_AFTER && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** The item `i` places from the front (0 = oldest), without taking it. */
  at(i: number): T | undefined {
    return i >= 0 ? this.items[this.head + i] : undefined;
  }
}
