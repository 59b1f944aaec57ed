import * as fs from 'node:fs';
import type { CgroupMounts } from './mounts.ts';
import { parseOpenFilesLimit } from './parse/proc.ts';

/**
 * Files left to sockets, watches, the runtimes' APIs and everything else a process opens, when
 * the budget comes from RLIMIT_NOFILE: a quarter of the limit, and at least 256.
 */
export function budgetFromLimit(limit: number): number {
  if (!Number.isFinite(limit)) return 1 << 20;
  return Math.max(0, Math.floor(limit - Math.max(256, limit / 4)));
}

/** statfs magic numbers of cgroup (v1) and cgroup2 file systems. */
const CGROUP_MAGICS = new Set([0x27e0eb, 0x63677270]);

/**
 * Whether every hierarchy in use is a real cgroup file system. Only there do files regenerate
 * at each read and does a removed cgroup read ENODEV; a copied tree (a `--root` of plain files)
 * is read by open/read/close so that a file replaced or removed there is seen as it is.
 */
export function onCgroupFs(mounts: CgroupMounts): boolean {
  const dirs = [...new Set([...mounts.v1.values()].map((h) => h.mountPoint)), ...(mounts.v2 ? [mounts.v2.mountPoint] : [])];
  try {
    return dirs.length > 0 && dirs.every((d) => CGROUP_MAGICS.has(fs.statfsSync(d).type));
  } catch {
    return false;
  }
}

let processBudget: FileBudget | undefined;

/**
 * The one budget of this process, shared by every engine in it: RLIMIT_NOFILE is per process.
 * Made at first use from /proc/self/limits.
 */
export function processFileBudget(): FileBudget {
  processBudget ??= new FileBudget(hostFileBudget());
  return processBudget;
}

/** The budget this process can afford: from /proc/self/limits (Node raises the soft limit to the hard one at start). */
export function hostFileBudget(limitsFile = '/proc/self/limits'): number {
  let limit: number | undefined;
  try {
    limit = parseOpenFilesLimit(fs.readFileSync(limitsFile, 'latin1'));
  } catch {
    limit = undefined;
  }
  return budgetFromLimit(limit ?? 1024);
}

/**
 * The most cgroup files kept open at once, over all tasks. A task is admitted to keeping its
 * files while the budget has room for a whole task's set (`perTask`); the others read by
 * open/read/close, as before, and are admitted once room is made.
 */
export class FileBudget {
  /** Files kept open now. */
  open = 0;
  /** Tasks whose files are kept (admitted, not yet released for good). */
  tasks = 0;

  constructor(
    readonly limit: number,
    /** Files a task is expected to keep: room for this many is needed to admit one. */
    readonly perTask = 24,
  ) {}

  /** A task's kept files, or undefined when there is no room for another task's set. */
  admit(): KeptFiles | undefined {
    if (this.open + this.perTask > this.limit) return undefined;
    this.tasks++;
    return new KeptFiles(this);
  }
}

/**
 * One task's cgroup files kept open between reads, read with positional reads: one syscall per
 * file where open/read/close takes three, and the content is generated afresh by each read from
 * offset 0. A kept file always reads the cgroup it was opened on: once that cgroup is removed it
 * reads ENODEV, even if a new directory is made under the same path. An open file of a removed
 * cgroup keeps the dying cgroup in kernel memory, so the engine closes a task's files at its
 * final reading, at remove(), and when a read finds the cgroup gone.
 */
export class KeptFiles {
  // Three parallel arrays in the order the files are read: a read walks them with a cursor, so
  // a lookup is two identity compares (the task's own dir strings, literal names), and a task
  // holds three small arrays instead of a Map per directory (bench:collection's heap rows).
  private readonly dirs: string[] = [];
  private readonly names: string[] = [];
  private readonly fds: number[] = [];
  private cursor = 0;
  /** Closed for good: later reads open/read/close and keep nothing (a collection still reading an ended task). */
  retired = false;

  constructor(private readonly budget: FileBudget) {
    // A task dropped with its engine, never stopped nor removed (a library user's): its files
    // close when it is collected, and its share of the process budget comes back.
    abandoned.register(this, { fds: this.fds, budget }, this);
  }

  get size(): number {
    return this.fds.length;
  }

  /** A read of the task begins: lookups follow the order of the last one. */
  rewind(): void {
    this.cursor = 0;
  }

  get(dir: string, name: string): number | undefined {
    const n = this.fds.length;
    let i = this.cursor;
    if (i >= n || this.dirs[i] !== dir || this.names[i] !== name) {
      // Out of step (a file found absent, a directory attached later): look it up.
      for (i = 0; i < n; i++) if (this.names[i] === name && this.dirs[i] === dir) break;
      if (i === n) return undefined;
    }
    this.cursor = i + 1;
    return this.fds[i];
  }

  /** Whether one more file may be kept. */
  get room(): boolean {
    return !this.retired && this.budget.open < this.budget.limit;
  }

  keep(dir: string, name: string, fd: number): void {
    this.dirs.push(dir);
    this.names.push(name);
    this.fds.push(fd);
    this.cursor = this.fds.length;
    this.budget.open++;
  }

  /** Closes one kept file (a read of it failed). */
  drop(dir: string, name: string): void {
    for (let i = 0; i < this.fds.length; i++) {
      if (this.names[i] !== name || this.dirs[i] !== dir) continue;
      const fd = this.fds[i] as number;
      this.dirs.splice(i, 1);
      this.names.splice(i, 1);
      this.fds.splice(i, 1);
      this.cursor = i;
      this.closeFd(fd);
      return;
    }
  }

  /** Closes every kept file; the task may keep files again (its cgroup was found gone, and it stays registered). */
  release(): void {
    for (const fd of this.fds) this.closeFd(fd);
    this.dirs.length = 0;
    this.names.length = 0;
    this.fds.length = 0;
    this.cursor = 0;
  }

  /** Closes every kept file for good: the task has ended. Its budget slot is given back. */
  retire(): void {
    if (this.retired) return;
    this.release();
    this.retired = true;
    this.budget.tasks--;
    abandoned.unregister(this);
  }

  private closeFd(fd: number): void {
    this.budget.open--;
    try {
      fs.closeSync(fd);
    } catch {
      // EBADF cannot happen for an fd we own; nothing else of close(2) matters for a read-only file.
    }
  }
}

const abandoned = new FinalizationRegistry<{ fds: number[]; budget: FileBudget }>(({ fds, budget }) => {
  for (const fd of fds) {
    budget.open--;
    try {
      fs.closeSync(fd);
    } catch {
      // Nothing to do for a read-only file.
    }
  }
  budget.tasks--;
});
