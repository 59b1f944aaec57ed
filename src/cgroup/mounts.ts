import * as fs from 'node:fs';
import * as path from 'node:path';
import { NoCgroupMountError } from '../errors.ts';
import { parseMountInfo } from './parse/proc.ts';
import { V1_CONTROLLERS } from './types.ts';

/** One mounted v1 hierarchy (or a cgroup2 mount when `controllers` is empty and `version` is 2). */
export interface Hierarchy {
  mountPoint: string;
  /** The hierarchy path at the mount point: `/` unless inside a cgroup namespace or a bind mount. */
  root: string;
  /** v1 controllers mounted here, co-mounted ones included (`cpu`, `cpuacct`). */
  controllers: string[];
}

export type CgroupMode = 'v1' | 'hybrid' | 'v2';

export interface CgroupMounts {
  mode: CgroupMode;
  /** v1 hierarchies by controller: `cpu` and `cpuacct` point at the same Hierarchy when co-mounted. */
  v1: Map<string, Hierarchy>;
  /** The cgroup2 mount: the only one on v2, `/sys/fs/cgroup/unified` style on hybrid hosts. */
  v2?: Hierarchy;
}

function modeOf(v1: Map<string, Hierarchy>, v2: Hierarchy | undefined): CgroupMode | undefined {
  const hasV1 = [...v1.keys()].some((c) => (V1_CONTROLLERS as readonly string[]).includes(c));
  if (hasV1) return v2 ? 'hybrid' : 'v1';
  return v2 ? 'v2' : undefined;
}

/** Finds the cgroup mounts in a mountinfo text (pure). The first mount of each hierarchy wins. */
export function cgroupMountsFromMountInfo(text: string): CgroupMounts {
  const v1 = new Map<string, Hierarchy>();
  let v2: Hierarchy | undefined;
  for (const m of parseMountInfo(text)) {
    if (m.fsType === 'cgroup2') {
      v2 ??= { mountPoint: m.mountPoint, root: m.root, controllers: [] };
    } else if (m.fsType === 'cgroup') {
      const controllers = m.superOptions.filter(
        (o) =>
          (V1_CONTROLLERS as readonly string[]).includes(o) ||
          o.startsWith('name=') ||
          ['cpuset', 'devices', 'freezer', 'net_cls', 'net_prio', 'perf_event', 'rdma', 'misc'].includes(o),
      );
      if (controllers.length === 0) continue;
      const h: Hierarchy = { mountPoint: m.mountPoint, root: m.root, controllers };
      for (const c of controllers) if (!v1.has(c)) v1.set(c, h);
    }
  }
  const mode = modeOf(v1, v2);
  if (!mode) throw new NoCgroupMountError('mountinfo lists no cgroup or cgroup2 filesystem');
  return v2 ? { mode, v1, v2 } : { mode, v1 };
}

/** The host's cgroup mounts, from /proc/self/mountinfo. */
export function hostCgroupMounts(mountInfoPath = '/proc/self/mountinfo'): CgroupMounts {
  let text: string;
  try {
    text = fs.readFileSync(mountInfoPath, 'utf8');
  } catch (err) {
    throw new NoCgroupMountError(`cannot read ${mountInfoPath}: ${(err as Error).message}`);
  }
  return cgroupMountsFromMountInfo(text);
}

/**
 * Treats a directory as the cgroup root (`--root DIR`): either a cgroup2 directory (it has
 * `cgroup.controllers`), or a v1 tree with one sub-directory per controller as under
 * /sys/fs/cgroup (`cpu`, `memory`, `cpu,cpuacct`, plus an optional cgroup2 `unified`).
 */
export function cgroupMountsFromDirectory(dir: string): CgroupMounts {
  const abs = path.resolve(dir);
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(abs, { withFileTypes: true });
  } catch (err) {
    throw new NoCgroupMountError(`cannot read --root ${abs}: ${(err as Error).message}`);
  }
  // cgroup.controllers exists only in cgroup2 directories (a v1 hierarchy has cgroup.procs but not it).
  if (entries.some((e) => e.name === 'cgroup.controllers')) {
    return { mode: 'v2', v1: new Map(), v2: { mountPoint: abs, root: '/', controllers: [] } };
  }
  const v1 = new Map<string, Hierarchy>();
  let v2: Hierarchy | undefined;
  for (const e of entries) {
    if (!e.isDirectory() && !e.isSymbolicLink()) continue;
    const sub = path.join(abs, e.name);
    if (e.name === 'unified' && fs.existsSync(path.join(sub, 'cgroup.controllers'))) {
      v2 = { mountPoint: sub, root: '/', controllers: [] };
      continue;
    }
    const controllers = e.name.split(',').filter((c) => (V1_CONTROLLERS as readonly string[]).includes(c));
    if (controllers.length === 0) continue;
    const h: Hierarchy = { mountPoint: sub, root: '/', controllers };
    // A real directory (`cpu,cpuacct`) wins over the symlinks distributions add (`cpu -> cpu,cpuacct`).
    for (const c of controllers) if (!v1.has(c) || e.isDirectory()) v1.set(c, h);
  }
  const mode = modeOf(v1, v2);
  if (!mode)
    throw new NoCgroupMountError(
      `--root ${abs} is neither a cgroup2 directory (no cgroup.controllers) nor a v1 tree (no cpu, cpuacct, memory, blkio, pids or hugetlb sub-directory)`,
    );
  return v2 ? { mode, v1, v2 } : { mode, v1 };
}
