/** Failed reads since start, by error type (ENOENT, EACCES, timeout, parse, ...): the read.errors self metric. */
export class ErrorCounts {
  private readonly counts = new Map<string, number>();

  add(type: string, n = 1): void {
    this.counts.set(type, (this.counts.get(type) ?? 0) + n);
  }

  /** A copy: later counts do not change what a collection has already reported. */
  snapshot(): ReadonlyMap<string, number> {
    return new Map(this.counts);
  }
}
