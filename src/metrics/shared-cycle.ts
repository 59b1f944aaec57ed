import { performance } from 'node:perf_hooks';

/**
 * One read shared by overlapping collections (two readers, a scrape during a push): while a
 * run is in flight, every caller joins it instead of starting another. A run is started with
 * its caller's deadline and stops there by itself, returning what it read by then.
 */
export class SharedCycle<T> {
  private inflight: Promise<T> | undefined;
  /** The deadline the run in flight was started with. */
  private inflightDeadline = 0;

  /** `run(deadline)` must resolve by `deadline` (performance.now() time) and never reject. */
  constructor(private readonly run: (deadline: number) => Promise<T>) {}

  /**
   * The result of the run in flight, or of a new one started with `deadline`. Resolves
   * `undefined` at `deadline` only when it joined a run started with a later deadline: a run
   * that stops by this deadline itself is awaited without a timer, because a timer fires
   * between the run's slices, possibly before its own deadline check (ms rounding), and would
   * lose the readings the run was about to return.
   */
  read(deadline: number): Promise<T | undefined> {
    if (!this.inflight) {
      this.inflightDeadline = deadline;
      this.inflight = this.run(deadline).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflightDeadline <= deadline ? this.inflight : withDeadline(this.inflight, deadline);
  }
}

async function withDeadline<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - performance.now()));
    timer.unref();
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
