import { cgroupMountsFromDirectory, hostCgroupMounts, type CgroupMounts } from '../cgroup/mounts.ts';

export interface MountOptions {
  /** A directory to use instead of the host's cgroup mounts: a cgroup2 directory or a v1 tree. */
  root?: string;
  /** Explicit mounts (tests, embedding); win over `root`. */
  mounts?: CgroupMounts;
}

/**
 * The cgroup mounts an engine reads: the explicit ones, else `root`'s, else the host's (from
 * /proc/self/mountinfo). Throws NoCgroupMountError when there are none or `root` is unusable.
 */
export function resolveMounts(options: MountOptions): CgroupMounts {
  if (options.mounts) return options.mounts;
  return options.root !== undefined ? cgroupMountsFromDirectory(options.root) : hostCgroupMounts();
}
