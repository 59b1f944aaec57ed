import * as fs from 'node:fs';
import * as path from 'node:path';
import { CgroupNotFoundError, PathOutsideMountError } from '../errors.ts';
import type { CgroupMounts, Hierarchy } from './mounts.ts';
import { parseProcCgroup } from './parse/proc.ts';
import { V1_CONTROLLERS, type TaskCgroup, type V1Controller } from './types.ts';

/** A task's cgroup as callers give it: a path relative to each hierarchy's root, or a process. */
export type CgroupSpec = string | { pid: number };

/**
 * Normalises a cgroup path lexically, refusing any `..` that climbs above the root
 * (`/default/../../etc`) and NUL bytes. Returns an absolute path (`/` for the root).
 */
export function normalizeCgroupPath(p: string, mountPoint: string): string {
  if (p.includes('\0')) throw new PathOutsideMountError(p, mountPoint);
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) throw new PathOutsideMountError(p, mountPoint);
      out.pop();
    } else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** The directory of `cgroupPath` under a hierarchy, refusing symlinks that lead out of the mount. */
function dirIn(h: Hierarchy, cgroupPath: string): string | undefined {
  const rel = normalizeCgroupPath(cgroupPath, h.mountPoint);
  const dir = rel === '/' ? h.mountPoint : path.join(h.mountPoint, rel);
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return undefined; // absent in this hierarchy
  }
  const mountReal = fs.realpathSync(h.mountPoint);
  if (real !== mountReal && !real.startsWith(`${mountReal}/`)) throw new PathOutsideMountError(cgroupPath, h.mountPoint);
  try {
    if (!fs.statSync(real).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  return dir;
}

/** A path from /proc/<pid>/cgroup is absolute in the hierarchy; make it relative to the mount's root. */
function relativeToMount(h: Hierarchy, p: string): string {
  if (h.root === '/' || h.root === '') return p;
  if (p === h.root) return '/';
  if (p.startsWith(`${h.root}/`)) return p.slice(h.root.length);
  return p; // inside a cgroup namespace the kernel already prints namespace-relative paths
}

/**
 * Resolves a task's cgroup directories. On v1 and hybrid hosts: one directory per v1
 * controller where the cgroup exists, plus the cgroup2 twin (pressure, cgroup.events) where
 * one exists. Throws CgroupNotFoundError when the cgroup exists nowhere,
 * PathOutsideMountError for a path leaving the mount.
 */
export function resolveCgroup(mounts: CgroupMounts, spec: CgroupSpec, procRoot = '/proc'): TaskCgroup {
  if (typeof spec === 'string') return resolvePath(mounts, spec);
  return resolvePid(mounts, spec.pid, procRoot);
}

function resolvePath(mounts: CgroupMounts, p: string): TaskCgroup {
  if (mounts.mode === 'v2') {
    const h = mounts.v2 as Hierarchy;
    const norm = normalizeCgroupPath(p, h.mountPoint);
    const dir = dirIn(h, norm);
    if (!dir) throw new CgroupNotFoundError(p, `no directory ${path.join(h.mountPoint, norm)}`);
    return { version: 2, path: norm, dir };
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  let norm = '/';
  for (const c of V1_CONTROLLERS) {
    const h = mounts.v1.get(c);
    if (!h) continue;
    norm = normalizeCgroupPath(p, h.mountPoint);
    const dir = dirIn(h, norm);
    if (dir) dirs[c] = dir;
  }
  const unified = mounts.v2 ? dirIn(mounts.v2, normalizeCgroupPath(p, mounts.v2.mountPoint)) : undefined;
  if (Object.keys(dirs).length === 0) {
    const where = [...new Set([...mounts.v1.values()].map((h) => h.mountPoint))].join(', ');
    throw new CgroupNotFoundError(p, `in none of the v1 hierarchies ${where}`);
  }
  return unified ? { version: 1, path: norm, dirs, unified } : { version: 1, path: norm, dirs };
}

function resolvePid(mounts: CgroupMounts, pid: number, procRoot: string): TaskCgroup {
  if (!Number.isInteger(pid) || pid <= 0) throw new CgroupNotFoundError(`pid:${pid}`, 'not a valid pid');
  const file = path.join(procRoot, String(pid), 'cgroup');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CgroupNotFoundError(`pid:${pid}`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const lines = parseProcCgroup(text);
  const v2line = lines.find((l) => l.hierarchyId === 0 && l.controllers.length === 0);
  if (mounts.mode === 'v2') {
    const h = mounts.v2 as Hierarchy;
    if (!v2line) throw new CgroupNotFoundError(`pid:${pid}`, `${file} has no 0:: line`);
    const p = relativeToMount(h, v2line.path);
    const dir = dirIn(h, p);
    if (!dir) throw new CgroupNotFoundError(`pid:${pid}`, `its cgroup ${p} is not under ${h.mountPoint}`);
    return { version: 2, path: normalizeCgroupPath(p, h.mountPoint), dir };
  }
  const dirs: Partial<Record<V1Controller, string>> = {};
  let cgPath: string | undefined;
  for (const c of V1_CONTROLLERS) {
    const h = mounts.v1.get(c);
    const line = lines.find((l) => l.controllers.includes(c));
    if (!h || !line) continue;
    const p = relativeToMount(h, line.path);
    cgPath ??= normalizeCgroupPath(p, h.mountPoint);
    const dir = dirIn(h, p);
    if (dir) dirs[c] = dir;
  }
  if (Object.keys(dirs).length === 0) throw new CgroupNotFoundError(`pid:${pid}`, `${file} names no cgroup in the mounted v1 hierarchies`);
  const unified = mounts.v2 && v2line ? dirIn(mounts.v2, relativeToMount(mounts.v2, v2line.path)) : undefined;
  const out: TaskCgroup = { version: 1, path: cgPath ?? '/', dirs };
  if (unified) out.unified = unified;
  return out;
}

/**
 * `c` completed with what `later` (the same cgroup resolved again) has and `c` lacks: v1
 * directories of other hierarchies, the cgroup2 twin. Undefined when nothing is new, or for v2.
 */
export function withLateDirs(c: TaskCgroup, later: TaskCgroup): TaskCgroup | undefined {
  if (c.version !== 1 || later.version !== 1) return undefined;
  const dirs = { ...c.dirs };
  let changed = false;
  for (const ctrl of V1_CONTROLLERS) {
    const d = later.dirs[ctrl];
    if (d !== undefined && dirs[ctrl] === undefined) {
      dirs[ctrl] = d;
      changed = true;
    }
  }
  const unified = c.unified ?? later.unified;
  if (unified !== c.unified) changed = true;
  if (!changed) return undefined;
  return unified === undefined ? { ...c, dirs } : { ...c, dirs, unified };
}

/** The directory whose cgroup.procs lists a task's processes: its cgroup2 directory (or twin), else a v1 hierarchy's. */
export function processesDir(c: TaskCgroup): string | undefined {
  return c.version === 2 ? c.dir : (c.unified ?? c.dirs.cpuacct ?? c.dirs.cpu ?? c.dirs.memory ?? c.dirs.pids);
}
