import * as fs from 'node:fs';
import type { FileReader } from './file-reader.ts';
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

/** Directories a task's kept files may be in (the dir index takes 4 bits of a slot). */
const MAX_DIRS = 16;
/** The largest fd a slot holds as a small integer (fd × 32 + flags below 2^31). */
const MAX_FD = 2 ** 26 - 1;
/** A slot's bit: the file was read in the last read of the task (or in this one, so far). */
const USED = 16;
/** Name sequences shared among tasks, by their joined names; bounded (a task past it keeps its own). */
const sequences = new Map<string, readonly string[]>();
const MAX_SEQUENCES = 256;
let nextStamp = 0;

/** What a task's FinalizationRegistry entry holds: its slots (see KeptFiles) and its budget. */
interface Slots {
  slots: number[];
  budget: FileBudget;
}

/**
 * One task's cgroup files kept open between reads, read with positional reads: one syscall per
 * file where open/read/close takes three, and the content is generated afresh by each read from
 * offset 0. A kept file always reads the cgroup it was opened on: once that cgroup is removed it
 * reads ENODEV, even if a new directory is made under the same path. An open file of a removed
 * cgroup keeps the dying cgroup in kernel memory, so the engine closes a task's files at its
 * final reading, at remove(), and when a read finds the cgroup gone.
 *
 * It also marks the files found absent (no fd): a read walks one sequence in step, absent files
 * included, instead of falling out of step at each.
 */
export class KeptFiles {
  // The files in the order they are read: a read walks them with a cursor, so a lookup is two
  // identity compares (literal names, the task's own dir strings). Per file a name, and a slot:
  // fd × 32 + USED + the index of its directory in `dirs` (fd -1: found absent). After a read that
  // changed them (rewind), the arrays are cut to size and the names array is shared with every
  // task that reads the same sequence: a task keeps one small array of integers and its few
  // directories (bench:collection's heap rows).
  private names: readonly string[] = [];
  private shared = false;
  private dirs: string[] = [];
  private readonly files: Slots;
  private cursor = 0;
  private changed = false;
  private count = 0;
  /**
   * Names this KeptFiles and its files' indexes to the reader's read-ahead: a new one at each
   * drop and release (indexes move), so that nothing read ahead before is taken for a file now.
   */
  stamp = nextStamp++;
  /** Closed for good: later reads open/read/close and keep nothing (a collection still reading an ended task). */
  retired = false;

  constructor(private readonly budget: FileBudget) {
    this.files = { slots: [], budget };
    // A task dropped with its engine, never stopped nor removed (a library user's): its files
    // close when it is collected, and its share of the process budget comes back.
    abandoned.register(this, this.files, this);
  }

  /** Files kept open. */
  get size(): number {
    return this.count;
  }

  /** A read of the task begins: lookups follow the order of the last one. */
  rewind(): void {
    this.cursor = 0;
    if (this.changed) this.settle();
  }

  /** The kept file's fd, -1 when the file was marked absent, undefined when it is not known. */
  get(dir: string, name: string): number | undefined {
    const i = this.find(dir, name);
    return i < 0 ? undefined : this.fdAt(i);
  }

  /** The file's index (marked used by this read), -1 when it is not known. Indexes hold until a drop. */
  find(dir: string, name: string): number {
    const names = this.names;
    const slots = this.files.slots;
    const n = slots.length;
    let i = this.cursor;
    if (i >= n || names[i] !== name || this.dirs[(slots[i] as number) & 15] !== dir) {
      // Out of step (a file dropped, a directory attached later): look it up.
      for (i = 0; i < n; i++) if (names[i] === name && this.dirs[(slots[i] as number) & 15] === dir) break;
      if (i === n) return -1;
    }
    this.cursor = i + 1;
    slots[i] = (slots[i] as number) | USED;
    return i;
  }

  /** The fd of file `i`, -1 when it was marked absent. */
  fdAt(i: number): number {
    return (this.files.slots[i] as number) >> 5;
  }

  /**
   * Reads ahead, into the reader's read-ahead buffer, every kept file that the last read of the
   * task read (a file a read no longer asks for, such as `cgroup.procs` once the task's network
   * namespace is known, is not read ahead again): file i at index base + i of the reader's
   * (see FileReader.reserveAhead), where `reader.aheadEndOf` is not -1. Returns the base.
   */
  readAhead(reader: FileReader): number {
    const slots = this.files.slots;
    const n = slots.length;
    const base = reader.reserveAhead(this.stamp, n);
    for (let i = 0; i < n; i++) {
      const slot = slots[i] as number;
      if (slot & USED) {
        slots[i] = slot & ~USED;
        if (slot >= 0) reader.queueAhead(base + i, slot >> 5);
      }
    }
    reader.flushAhead();
    return base;
  }

  /** How many files there are, kept or marked absent (read ahead: files 0 to this, less one). */
  get length(): number {
    return this.files.slots.length;
  }

  /** Whether one more file may be kept. */
  get room(): boolean {
    return !this.retired && this.budget.open < this.budget.limit && this.dirs.length < MAX_DIRS;
  }

  /** Keeps an open file (`room` was true); false when the fd is too large to keep (the caller closes it). */
  keep(dir: string, name: string, fd: number): boolean {
    if (fd > MAX_FD || !this.add(dir, name, fd)) return false;
    this.count++;
    this.budget.open++;
    return true;
  }

  /** Marks a file found absent, so that reads stay in step (no fd, nothing counted). */
  markAbsent(dir: string, name: string): void {
    if (!this.retired) this.add(dir, name, -1);
  }

  private add(dir: string, name: string, fd: number): boolean {
    let d = this.dirs.indexOf(dir);
    if (d === -1) {
      if (this.dirs.length >= MAX_DIRS) return false;
      d = this.dirs.length;
      this.dirs.push(dir);
    }
    this.own().push(name);
    this.files.slots.push(fd * 32 + USED + d);
    this.cursor = this.files.slots.length;
    this.changed = true;
    return true;
  }

  /** Closes one kept file (a read of it failed). */
  drop(dir: string, name: string): void {
    const slots = this.files.slots;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as number;
      if (this.names[i] !== name || this.dirs[slot & 15] !== dir) continue;
      this.own().splice(i, 1);
      slots.splice(i, 1);
      this.stamp = nextStamp++;
      this.cursor = i;
      this.changed = true;
      if (slot >= 0) this.closeFd(slot >> 5);
      return;
    }
  }

  /** Closes every kept file; the task may keep files again (its cgroup was found gone, and it stays registered). */
  release(): void {
    for (const slot of this.files.slots) if (slot >= 0) this.closeFd(slot >> 5);
    this.files.slots = [];
    this.stamp = nextStamp++;
    this.names = [];
    this.shared = false;
    this.dirs = [];
    this.cursor = 0;
    this.changed = false;
  }

  /** Closes every kept file for good: the task has ended. Its budget slot is given back. */
  retire(): void {
    if (this.retired) return;
    this.release();
    this.retired = true;
    this.budget.tasks--;
    abandoned.unregister(this);
  }

  /** The names array, this task's own (a shared one is copied before a change). */
  private own(): string[] {
    if (this.shared) {
      this.names = this.names.slice();
      this.shared = false;
    }
    return this.names as string[];
  }

  /** After a read that changed the files: the arrays cut to size, the names shared. */
  private settle(): void {
    this.changed = false;
    this.files.slots = this.files.slots.slice();
    this.dirs = this.dirs.slice();
    if (this.shared) return;
    const key = this.names.join('\0');
    let names = sequences.get(key);
    if (names === undefined) {
      names = this.names.slice();
      if (sequences.size < MAX_SEQUENCES) sequences.set(key, names);
    }
    this.names = names;
    this.shared = true;
  }

  private closeFd(fd: number): void {
    this.count--;
    this.budget.open--;
    try {
      fs.closeSync(fd);
    } catch {
      // EBADF cannot happen for an fd we own; nothing else of close(2) matters for a read-only file.
    }
  }
}

const abandoned = new FinalizationRegistry<Slots>(({ slots, budget }) => {
  for (const slot of slots) {
    if (slot < 0) continue;
    budget.open--;
    try {
      fs.closeSync(slot >> 5);
    } catch {
      // Nothing to do for a read-only file.
    }
  }
  budget.tasks--;
});
