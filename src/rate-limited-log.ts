/** One line of output (the agent's stderr log). */
export type LogLine = (line: string) => void;

interface KeyState {
  lastAt: number;
  held: number;
  lastLine: string;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Lines of one kind (a key: an exporter's failures, an error code) said at most once per
 * interval: the first at once; those that follow within the interval are held back and
 * counted, and the interval's end says the last of them with the count. A steady failure is
 * one line a minute, never a flood, and never silence.
 */
export class RateLimitedLog {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly log: LogLine,
    readonly intervalMs = 60_000,
  ) {}

  /** Says `line` now, or holds it back (counted) when a line of `key` was said less than an interval ago. */
  say(key: string, line: string): void {
    const now = Date.now();
    const s = this.keys.get(key);
    if (!s || (s.held === 0 && now - s.lastAt >= this.intervalMs)) {
      this.keys.set(key, { lastAt: now, held: 0, lastLine: line, timer: s?.timer });
      this.log(line);
      return;
    }
    s.held++;
    s.lastLine = line;
    if (!s.timer) {
      s.timer = setTimeout(() => this.release(key), Math.max(0, s.lastAt + this.intervalMs - now));
      s.timer.unref();
    }
  }

  /** Lines of `key` held back now. */
  held(key: string): number {
    return this.keys.get(key)?.held ?? 0;
  }

  /** Says what every key holds back now (shutdown: nothing stays unsaid). */
  flush(): void {
    for (const key of this.keys.keys()) this.release(key);
  }

  /** Forgets `key`: its next line is said at once (after a recovery). Says what it held back first. */
  reset(key: string): void {
    this.release(key);
    this.keys.delete(key);
  }

  private release(key: string): void {
    const s = this.keys.get(key);
    if (!s) return;
    clearTimeout(s.timer);
    s.timer = undefined;
    if (s.held === 0) return;
    const n = s.held;
    s.held = 0;
    s.lastAt = Date.now();
    this.log(`${s.lastLine} (${n} more like this in the last ${Math.round(this.intervalMs / 1000)} s)`);
  }
}
