/**
 * v1 CPU time by mode. `cpuacct.usage` is exact (the scheduler's clock); `usage_user` and
 * `usage_sys` are sampled at timer ticks, and their sum drifts from it (by several percent on
 * busy containers). The exact total split by the sampled shares is right in sum, but a share
 * moves at every tick, so `usage × share` can go backwards: a counter must not. So each
 * reading's increase of the total is divided in the ratio of the sampled counters' increases
 * since the previous reading of the same task: both modes only grow, and they sum to the total.
 */
export interface CpuSplit {
  /** The raw counters of the reading this split was made from, ns. */
  usage: number;
  sampledUser: number;
  sampledSys: number;
  /** The split, ns: user + system = usage. */
  user: number;
  system: number;
}

/** User share of sampled counters (or of their increases); all user time when nothing was sampled. */
function share(user: number, sys: number): number {
  return user + sys > 0 ? user / (user + sys) : 1;
}

export function splitCpu(prev: CpuSplit | undefined, usage: number, sampledUser: number, sampledSys: number): CpuSplit {
  // First reading, or counters that went backwards (a cgroup made again under the same path).
  if (!prev || usage < prev.usage || sampledUser < prev.sampledUser || sampledSys < prev.sampledSys) {
    const user = usage * share(sampledUser, sampledSys);
    return { usage, sampledUser, sampledSys, user, system: usage - user };
  }
  const du = sampledUser - prev.sampledUser;
  const ds = sampledSys - prev.sampledSys;
  // No tick fell in the interval: the task's overall shares.
  const s = du + ds > 0 ? share(du, ds) : share(sampledUser, sampledSys);
  let user = prev.user + (usage - prev.usage) * s;
  let system = usage - user;
  // Rounding must not take either mode below its previous value.
  if (system < prev.system) {
    system = prev.system;
    user = Math.max(prev.user, usage - system);
  }
  return { usage, sampledUser, sampledSys, user, system };
}
