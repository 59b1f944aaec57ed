/** A command-line mistake: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses `pid:N` or a path into the form resolveCgroup takes. */
export function parseCgroupArg(arg: string): string | { pid: number } {
  if (arg.startsWith('pid:')) {
    const pid = Number(arg.slice(4));
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`bad cgroup ${JSON.stringify(arg)}: pid:N needs a positive integer pid`);
    return { pid };
  }
  return arg;
}
