import { performance } from 'node:perf_hooks';
import { nextLoopTurn as yieldToLoop } from '../loop-turn.ts';
import { Fifo } from './fifo.ts';

/**
 * Runs queued work items in order, in slices of at most `sliceMs` of synchronous work, and
 * yields to the event loop between slices, so that a burst of any size never stalls it. The
 * first item of a burst runs at once, in push()'s stack; the drainer then stays in charge
 * until the event loop turns, so the rest of a synchronous burst is queued and run in slices
 * instead of each item running in its caller's stack.
 */
export class SlicedDrain<T> {
  private readonly queue = new Fifo<T>();
  private draining = false;

  constructor(
    private readonly sliceMs: number,
    private readonly run: (item: T) => void,
  ) {}

  /** Items waiting to run. */
  get pending(): number {
    return this.queue.length;
  }

  push(item: T): void {
    this.queue.push(item);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      do {
        while (this.queue.length > 0) {
          const sliceStart = performance.now();
          while (this.queue.length > 0 && performance.now() - sliceStart < this.sliceMs) this.run(this.queue.shift() as T);
          if (this.queue.length > 0) await yieldToLoop();
        }
        await yieldToLoop();
      } while (this.queue.length > 0);
    } finally {
      this.draining = false;
    }
  }
}
