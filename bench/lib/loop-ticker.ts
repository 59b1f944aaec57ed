import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';

/** The longest gap between two ticks, and how the main thread spent it. */
export interface LongestGap {
  /** performance.now() of the tick before the gap and of the one after it, ms. */
  a: number;
  b: number;
  gapMs: number;
  /** Time the main thread ran in the gap (schedstat), ms. */
  onCpuMs: number;
  /** Time it was runnable but waited for a CPU (schedstat's run delay), ms: the machine's, not the code's. */
  waitMs: number;
}

/**
 * A 1 ms ticker on the main thread that also reads the thread's /proc/thread-self/schedstat at
 * every tick, so that the longest gap splits into the time the thread ran and the time it waited
 * for a CPU. On a shared 2-core machine, with a reading thread of our own beside it, most of a
 * rare long gap is that wait: a slice of ours cannot be longer than the time the thread ran.
 */
export class LoopTicker {
  private readonly ticks: number[] = [];
  private readonly onCpu: number[] = [];
  private readonly waiting: number[] = [];
  private readonly fd = fs.openSync('/proc/thread-self/schedstat', 'r');
  private readonly buf = Buffer.alloc(128);
  private readonly iv: NodeJS.Timeout;

  constructor() {
    this.mark();
    this.iv = setInterval(() => this.mark(), 1);
  }

  private mark(): void {
    const n = fs.readSync(this.fd, this.buf, 0, this.buf.length, 0);
    const [run = '0', wait = '0'] = this.buf.toString('latin1', 0, n).split(' ');
    this.ticks.push(performance.now());
    this.onCpu.push(Number(run) / 1e6);
    this.waiting.push(Number(wait) / 1e6);
  }

  stop(): LongestGap {
    clearInterval(this.iv);
    this.mark();
    fs.closeSync(this.fd);
    let at = 0;
    for (let i = 1; i < this.ticks.length - 1; i++) {
      if ((this.ticks[i + 1] as number) - (this.ticks[i] as number) > (this.ticks[at + 1] as number) - (this.ticks[at] as number)) at = i;
    }
    const a = this.ticks[at] as number;
    const b = this.ticks[at + 1] as number;
    return {
      a,
      b,
      gapMs: b - a,
      onCpuMs: (this.onCpu[at + 1] as number) - (this.onCpu[at] as number),
      waitMs: (this.waiting[at + 1] as number) - (this.waiting[at] as number),
    };
  }
}
