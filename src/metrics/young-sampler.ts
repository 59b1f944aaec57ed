import { performance } from 'node:perf_hooks';
import { nextLoopTurn as yieldToLoop } from '../loop-turn.ts';
import { SlicedDrain } from './sliced-drain.ts';

export interface YoungSamplerOptions<T> {
  /** How long a task stays young after add(), ms; 0: no young-task reads (first readings only). */
  windowMs: number;
  /** Interval between reads of each young task, ms. */
  intervalMs: number;
  /** Most young tasks read in one tick: the budget of a tick, whatever the number of young tasks. */
  maxPerTick: number;
  /** Longest run of synchronous reads before yielding to the event loop. */
  sliceMs: number;
  /** Reads one task (synchronously) and keeps what it read. */
  read(item: T): void;
  /** False once the task was stopped or removed: it is then dropped unread. */
  alive(item: T): boolean;
  /** ms clock (default performance.now); tests pass their own. */
  now?: () => number;
}

/**
 * Readings of new tasks, so that a task whose cgroup is removed before any collection (the
 * runtime's rmdir winning the race with the final read) still has a near-final reading to send:
 * a first reading when it is added (the first of a burst in add()'s stack, the rest in slices),
 * then one every `intervalMs` while it is young (`windowMs`). Bounded: a tick reads at most
 * `maxPerTick` tasks, the longest-unread first, in slices of `sliceMs`; the timer runs only
 * while some task is young, and never keeps the process alive.
 */
export class YoungSampler<T> {
  /** Young tasks → end of their window; insertion order is read order (a read task moves to the end). */
  private readonly young = new Map<T, number>();
  private readonly firsts: SlicedDrain<T>;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly now: () => number;
  /** Young-task reads done by ticks (first readings not included): tests and benches. */
  reads = 0;

  constructor(private readonly options: YoungSamplerOptions<T>) {
    this.now = options.now ?? (() => performance.now());
    this.firsts = new SlicedDrain(options.sliceMs, (item) => {
      if (options.alive(item)) options.read(item);
    });
  }

  /** Tasks young now. */
  get size(): number {
    return this.young.size;
  }

  /** A new task: read now when `firstReading` (the first of a burst at once, the rest in slices), then while it is young. */
  add(item: T, firstReading: boolean): void {
    if (firstReading) this.firsts.push(item);
    if (this.options.windowMs <= 0) return;
    this.young.delete(item);
    this.young.set(item, this.now() + this.options.windowMs);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** One more first reading of a task (another of a burst's, in slices), its young window unchanged. */
  first(item: T): void {
    this.firsts.push(item);
  }

  /** Stops the timer and forgets every young task. */
  close(): void {
    this.young.clear();
    this.stopTimer();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One tick: drops tasks past their window or stopped, reads at most maxPerTick of the others in slices. */
  async tick(): Promise<void> {
    if (this.ticking) return; // the previous tick is still reading: its budget is this tick's too
    this.ticking = true;
    try {
      const now = this.now();
      const due: T[] = [];
      for (const [item, until] of this.young) {
        if (until <= now || !this.options.alive(item)) this.young.delete(item);
        else if (due.length < this.options.maxPerTick) due.push(item);
      }
      let sliceStart = performance.now();
      for (const item of due) {
        if (performance.now() - sliceStart >= this.options.sliceMs) {
          await yieldToLoop();
          sliceStart = performance.now();
        }
        const until = this.young.get(item);
        if (until === undefined || !this.options.alive(item)) continue;
        this.options.read(item);
        this.reads++;
        // To the end of the read order: with more young tasks than maxPerTick, the least recently read go first.
        this.young.delete(item);
        this.young.set(item, until);
      }
    } finally {
      this.ticking = false;
      if (this.young.size === 0) this.stopTimer();
    }
  }
}
