import * as fs from 'node:fs';
import { nativeAddon } from '../native-addon.ts';

// libuv adds O_CLOEXEC itself.
const FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;
/** No cgroup file comes near this; a device planted in a tree (/dev/zero) would otherwise never end. */
const MAX_FILE_BYTES = 4 << 20;
/** Room for files read ahead (a task's cgroup files take ~1.2 KB; what does not fit is read when asked for). */
const AHEAD_BYTES = 64 << 10;

type PreadAll = (fds: Int32Array, idx: Int32Array, n: number, buf: Buffer, pos: number, starts: Int32Array, ends: Int32Array) => number;
/** The addon's batched reads (native/cgroup-events.c preadAll), unless absent or OCM_NO_NATIVE_READS=1. */
const preadAll: PreadAll | undefined = (() => {
  if (process.env.OCM_NO_NATIVE_READS === '1') return undefined;
  const f = nativeAddon().mod?.preadAll;
  return typeof f === 'function' ? (f as PreadAll) : undefined;
})();

/** Whether kept files are read ahead by the native addon (the self-check of tests and benches). */
export const nativeReads = preadAll !== undefined;

/**
 * Synchronous reads into one reused buffer, of a file opened for the read or of one kept open
 * (see kept-files.ts). Open/read/close costs close to C's per cgroupfs file and several times
 * less than fs.promises.readFile; a positional read of a kept file a third of that (figures
 * in BENCHMARKS.md). O_NONBLOCK so
 * that a FIFO or another special file planted in a cgroup tree cannot block the thread in
 * open() or read(). Callers slice their work (see read-cycle.ts) because these calls block
 * the event loop.
 *
 * The readings take a file's bytes (`readInto`, `readFdInto`: its length, the bytes in `bytes`)
 * and parse them without making a string. A subclass may serve contents from memory (a replay,
 * a test) in either of two ways:
 *  - override `read(file)` and/or `readFd(fd, file)` to return the text (latin1: one byte per
 *    character); the bytes methods then serve that text;
 *  - override `readInto(dir, name)` and/or `readFdInto(fd, dir, name)` and return
 *    `this.serve(content)`, content a Buffer or a latin1 string.
 * A reader whose subclass serves kept files' contents (readFd or readFdInto) never reads ahead.
 */
export class FileReader {
  private buf: Buffer;
  // Whether a subclass serves text of its own (see above): the bytes methods then go through it.
  private readonly ownRead: boolean;
  private readonly ownReadFd: boolean;
  /** Whether kept files may be read ahead (`readAhead`): no subclass serves their contents. */
  readonly direct: boolean;
  // Read-ahead: file i at [starts[i], ends[i]) of `ahead` (ends[i] -1: not read ahead), the
  // files of the KeptFiles stamped stamps[k] from index bases[k] on.
  private ahead: Buffer | undefined;
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);
  private aheadEnd = 0;
  private aheadSlots = 0;
  private readonly stamps: number[] = [];
  // Files queued for the next flushAhead(): their indexes and fds.
  private qIdx = new Int32Array(32);
  private qFd = new Int32Array(32);
  private queued = 0;
  private readonly bases: number[] = [];

  constructor(initialSize = 16384) {
    this.buf = Buffer.allocUnsafe(initialSize);
    this.ownRead = this.read !== FileReader.prototype.read;
    this.ownReadFd = this.readFd !== FileReader.prototype.readFd;
    this.direct = !this.ownReadFd && this.readFdInto === FileReader.prototype.readFdInto;
  }

  /** The buffer the last `readInto`/`readFdInto`/`serve` filled (it may be replaced by a bigger one at any read). */
  get bytes(): Buffer {
    return this.buf;
  }

  /** The file's text (latin1: cgroup files are ASCII). Throws the errno error (ENOENT, EACCES, ENODEV, ...). */
  read(file: string): string {
    const fd = this.open(file);
    try {
      return this.readFd(fd, file, false);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Opens a file to read (read-only, O_NONBLOCK). Throws the errno error. */
  open(file: string): number {
    return fs.openSync(file, FLAGS);
  }

  /**
   * The whole text of an open file, read with positional reads from offset 0: a kernfs or
   * procfs file generates its content afresh for a read at offset 0, so a file kept open reads
   * current values with one syscall. `file` names it in errors. `positional` false reads on
   * from the file's offset instead (a fresh fd: a FIFO answers a positional read with ESPIPE).
   */
  readFd(fd: number, file: string, positional = true): string {
    return this.buf.toString('latin1', 0, this.fill(fd, file, positional));
  }

  /** `read(dir/name)` into `bytes`: its length. Throws as `read` does. */
  readInto(dir: string, name: string): number {
    const file = `${dir}/${name}`;
    if (this.ownRead || this.ownReadFd) return this.serve(this.read(file));
    const fd = this.open(file);
    try {
      return this.fill(fd, file, false);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** `readFd(fd, dir/name)` into `bytes`: its length. Throws as `readFd` does. */
  readFdInto(fd: number, dir: string, name: string): number {
    if (this.ownReadFd) return this.serve(this.readFd(fd, `${dir}/${name}`));
    // The common case inline: one positional read that the file does not fill.
    const buf = this.buf;
    const r = fs.readSync(fd, buf, 0, buf.length, 0);
    return r < buf.length ? r : this.fillMore(fd, r, dir, name);
  }

  /**
   * Read-ahead of kept files (see reading.ts and read-cycle.ts): `reserveAhead` takes n indexes
   * for one task's files (its KeptFiles stamp names them), `readAhead(i, fd)` reads file i with
   * one positional read into one shared buffer, each file after the last, and the task's reading
   * takes its base index back with `takeAhead`. A task's reads then come back to back, and
   * several tasks' in a cycle, before their parsing: the parsing code and data stay in the CPU
   * caches that each read's kernel work would evict. `resetAhead` forgets them all.
   */
  resetAhead(): void {
    this.aheadEnd = 0;
    this.aheadSlots = 0;
    this.stamps.length = 0;
    this.bases.length = 0;
  }

  /** Takes n indexes for the files of the KeptFiles stamped `stamp`: the first of them. */
  reserveAhead(stamp: number, n: number): number {
    const base = this.aheadSlots;
    const need = base + n;
    if (this.ends.length < need) {
      const size = Math.max(need, this.ends.length * 2, 64);
      const starts = new Int32Array(size);
      const ends = new Int32Array(size);
      starts.set(this.starts.subarray(0, base));
      ends.set(this.ends.subarray(0, base));
      this.starts = starts;
      this.ends = ends;
    }
    this.ends.fill(-1, base, need);
    this.aheadSlots = need;
    this.stamps.push(stamp);
    this.bases.push(base);
    return base;
  }

  /** The base index of what was read ahead for the KeptFiles stamped `stamp`, once (later: -1); -1 when nothing was. */
  takeAhead(stamp: number): number {
    for (let k = 0; k < this.stamps.length; k++) {
      if (this.stamps[k] !== stamp) continue;
      this.stamps[k] = -1;
      return this.bases[k] as number;
    }
    return -1;
  }

  /**
   * Queues file i (its fd) to be read ahead by the next flushAhead(): one task's files go in one
   * batch, read by the native addon in one call where it is built (~0.4 µs less a file than a
   * readSync each: BENCHMARKS.md), else one readAhead() each.
   */
  queueAhead(i: number, fd: number): void {
    if (this.queued === this.qIdx.length) {
      const idx = new Int32Array(this.qIdx.length * 2);
      const fds = new Int32Array(this.qIdx.length * 2);
      idx.set(this.qIdx);
      fds.set(this.qFd);
      this.qIdx = idx;
      this.qFd = fds;
    }
    this.qIdx[this.queued] = i;
    this.qFd[this.queued++] = fd;
  }

  /** Reads what queueAhead() queued, in order; a file that fails or does not fit ends the batch (it and the rest are read when asked for). */
  flushAhead(): void {
    const n = this.queued;
    if (n === 0) return;
    this.queued = 0;
    this.ahead ??= Buffer.allocUnsafe(AHEAD_BYTES);
    if (preadAll) {
      this.aheadEnd = preadAll(this.qFd, this.qIdx, n, this.ahead, this.aheadEnd, this.starts, this.ends);
      return;
    }
    for (let k = 0; k < n; k++) if (!this.readAhead(this.qIdx[k] as number, this.qFd[k] as number)) return;
  }

  /** Reads file i ahead: false when it failed or did not fit (it is then read when asked for, as are the files after it). */
  readAhead(i: number, fd: number): boolean {
    this.ahead ??= Buffer.allocUnsafe(AHEAD_BYTES);
    const room = AHEAD_BYTES - this.aheadEnd;
    let r: number;
    try {
      r = fs.readSync(fd, this.ahead, this.aheadEnd, room, 0);
    } catch {
      return false;
    }
    if (r >= room) return false;
    this.starts[i] = this.aheadEnd;
    this.ends[i] = this.aheadEnd += r;
    return true;
  }

  /** Where file i read ahead ends in `aheadBytes`, -1 when it was not read ahead. */
  aheadEndOf(i: number): number {
    return this.ends[i] as number;
  }

  /** Where file i read ahead starts in `aheadBytes`. */
  aheadStartOf(i: number): number {
    return this.starts[i] as number;
  }

  /** The read-ahead buffer. */
  get aheadBytes(): Buffer {
    return this.ahead as Buffer;
  }

  /** Puts `content` (a Buffer, or a string written latin1) into `bytes`: its length. For subclasses that serve contents. */
  protected serve(content: Buffer | string): number {
    const n = content.length;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    if (typeof content === 'string') this.buf.write(content, 0, n, 'latin1');
    else content.copy(this.buf, 0, 0, n);
    return n;
  }

  /** Reads the whole file into the buffer (grown as needed): its length. */
  private fill(fd: number, file: string, positional: boolean): number {
    let n = 0;
    for (;;) {
      const room = this.buf.length - n;
      const r = fs.readSync(fd, this.buf, n, room, positional ? n : null);
      n += r;
      // kernfs/seq_file fills the buffer unless at EOF: a short read ends the file without a second syscall.
      if (r < room) return n;
      this.grow(n, file);
    }
  }

  /** After a first positional read that filled the buffer (`n` bytes): the rest. */
  private fillMore(fd: number, n: number, dir: string, name: string): number {
    for (;;) {
      this.grow(n, `${dir}/${name}`);
      const room = this.buf.length - n;
      const r = fs.readSync(fd, this.buf, n, room, n);
      n += r;
      if (r < room) return n;
    }
  }

  /** Doubles the buffer, keeping its first `n` bytes; a file past MAX_FILE_BYTES is an EFBIG error. */
  private grow(n: number, file: string): void {
    if (this.buf.length >= MAX_FILE_BYTES) {
      throw Object.assign(new Error(`${file} is larger than ${MAX_FILE_BYTES} bytes: not a cgroup file`), { code: 'EFBIG' });
    }
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(bigger, 0, 0, n);
    this.buf = bigger;
  }
}
