import * as fs from 'node:fs';
import type { DeviceNames } from './devices.ts';
import { FileReader } from './file-reader.ts';
import type { KeptFiles } from './kept-files.ts';
import type { NetnsRegistry } from './netns.ts';
import { type FlatKeys, limitBytes, scanFlatKeyed, singleValueBytes } from './parse/bytes.ts';
import { finiteOrUndefined, parseFlatKeyed, type RangeSink } from './parse/file-formats.ts';
import type { ReadState } from './read-state.ts';
import type { ReadError } from './types.ts';

/** The error code readFile() gives a FIFO, a device or a directory where a file should be. */
const NOT_REGULAR = 'NOT_REGULAR';

/**
 * One read of one cgroup, shared by the controller readers: reads and parses files, collects
 * errors, notices the directory vanishing, and never throws. After `gone`, every read gives
 * undefined without touching the filesystem. It is the RangeSink of the parsers it calls: a
 * value out of [0, 2^63) becomes an error of type `range` (see rangeChecked()).
 */
export class Reading implements RangeSink {
  readonly errors: ReadError[] = [];
  gone = false;
  /** The first out-of-range token of the parse in progress. */
  private rangeToken: string | undefined = undefined;
  /** The buffer of the last file read, and where its bytes start. */
  private buf: Buffer;
  at = 0;
  /** The task's kept files read ahead: how many (-1 before the first read), from which index of the reader's. */
  private aheadCount = -1;
  private aheadBase = 0;
  constructor(
    private readonly reader: FileReader,
    /** The task's memory between reads. */
    readonly state: ReadState,
    readonly deviceNames: DeviceNames,
    /** Network namespaces: absent, no network is read (a copied tree's pids are not its processes). */
    readonly netns?: NetnsRegistry,
  ) {
    this.buf = reader.bytes;
  }

  /** The file's text; undefined when it is absent, unreadable (an error) or the cgroup is gone. */
  text(dir: string, name: string): string | undefined {
    const n = this.raw(dir, name);
    return n < 0 ? undefined : this.textOf(n);
  }

  /**
   * Reads the file: its length, its bytes at `at` in `bytes` (good until the next read), or -1
   * when it is absent, unreadable (an error) or the cgroup is gone.
   */
  raw(dir: string, name: string): number {
    if (this.gone) return -1;
    try {
      return this.readAny(dir, name, true);
    } catch (err) {
      const file = `${dir}/${name}`;
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === NOT_REGULAR) {
        this.parseError(dir, name, 'not a regular file');
        return -1;
      }
      if (code === 'ENOENT' || code === 'ENODEV') {
        // ENODEV: the file was open while its cgroup was removed. ENOENT: the file or the cgroup is gone.
        if (code === 'ENODEV' || !fs.existsSync(dir)) {
          this.gone = true;
          this.errors.push({ type: 'ENOENT', path: dir, message: `cgroup ${dir} was removed` });
        } else {
          const state = this.state;
          state.absent.add(file);
          if (state.absentNames) state.absentNames.push(name);
          else state.absentNames = [name]; // capacity 1: a first push would reserve 16
          state.kept?.markAbsent(dir, name);
        }
        return -1;
      }
      this.errors.push({ type: code, path: file, message: `cannot read ${file}: ${(err as Error).message}` });
      return -1;
    }
  }

  /** The buffer that `raw` read into. */
  get bytes(): Buffer {
    return this.buf;
  }

  /** The text of the `n` bytes `raw` just read. */
  textOf(n: number): string {
    return n === 0 ? '' : this.buf.toString('latin1', this.at, this.at + n);
  }

  /**
   * A file outside the cgroup (`/proc/<pid>/net/dev`), through the same kept files: its text, or
   * undefined on any error (the process is gone and nothing kept it open). Never marks the cgroup gone.
   */
  procText(dir: string, name: string): string | undefined {
    try {
      const n = this.readAny(dir, name, false);
      return n < 0 ? undefined : this.textOf(n);
    } catch {
      return undefined;
    }
  }

  /**
   * Reads a file, kept or not: its length (its bytes at `at` in `buf`), or -1 when it is known
   * absent (a cgroup file). Throws the errno error.
   */
  private readAny(dir: string, name: string, cgroupFile: boolean): number {
    const state = this.state;
    const kept = state.kept;
    let fd: number | undefined;
    if (kept !== undefined) {
      if (this.aheadCount < 0) this.takeAhead(kept);
      const i = kept.find(dir, name);
      if (i >= 0) {
        fd = kept.fdAt(i);
        if (fd < 0) return -1; // marked absent
        if (i < this.aheadCount) {
          const reader = this.reader;
          const end = reader.aheadEndOf(this.aheadBase + i);
          if (end >= 0) {
            this.buf = reader.aheadBytes;
            this.at = reader.aheadStartOf(this.aheadBase + i);
            return end - this.at;
          }
        }
      }
    }
    // The name first: it is a literal, hashed once, where the fresh path would hash at every
    // read; keeping the paths per task instead would cost heap for every task.
    if (cgroupFile && fd === undefined && state.absentNames?.includes(name) && state.absent.has(`${dir}/${name}`)) {
      kept?.markAbsent(dir, name);
      return -1;
    }
    const n = fd === undefined ? this.readNew(dir, name) : this.readKept(fd, dir, name);
    this.buf = this.reader.bytes;
    this.at = 0;
    return n;
  }

  /**
   * At the first read of a kept task: what was read ahead for it (read-cycle.ts reads several
   * tasks ahead), else its files read ahead now, the ones its last reading read.
   */
  private takeAhead(kept: KeptFiles): void {
    const reader = this.reader;
    this.aheadCount = 0;
    if (!reader.direct || kept.length === 0) return;
    let base = reader.takeAhead(kept.stamp);
    if (base < 0) {
      reader.resetAhead();
      base = kept.readAhead(reader);
      reader.takeAhead(kept.stamp);
    }
    this.aheadBase = base;
    this.aheadCount = kept.length;
  }

  /** Reads a kept file. Throws the errno error; the file is closed first, so that the next read opens it again or finds it gone. */
  private readKept(fd: number, dir: string, name: string): number {
    try {
      return this.reader.readFdInto(fd, dir, name);
    } catch (err) {
      this.state.kept?.drop(dir, name);
      this.aheadCount = 0; // a drop moves the files after it: what was read ahead no longer lines up
      throw err;
    }
  }

  /**
   * Reads a file not kept: opened and kept while the task's budget has room, else by
   * open/read/close. Throws the errno error.
   */
  private readNew(dir: string, name: string): number {
    const kept = this.state.kept;
    if (kept?.room) {
      const opened = this.reader.open(`${dir}/${name}`);
      // A FIFO or device planted in the tree is never kept (nor read): fstat once, at open.
      let regular = false;
      try {
        regular = fs.fstatSync(opened).isFile();
      } finally {
        if (!regular) fs.closeSync(opened);
      }
      if (!regular) throw Object.assign(new Error('not a regular file'), { code: NOT_REGULAR });
      if (kept.keep(dir, name, opened)) return this.readKept(opened, dir, name);
      fs.closeSync(opened);
    }
    const n = this.reader.readInto(dir, name);
    // A FIFO or device planted in the tree reads as empty (O_NONBLOCK, no writer): report it
    // instead of passing it on as an empty file. Only empty reads pay for the stat.
    if (n === 0 && !fs.statSync(`${dir}/${name}`).isFile()) throw Object.assign(new Error('not a regular file'), { code: NOT_REGULAR });
    return n;
  }

  parseError(dir: string, name: string, what: string): void {
    this.errors.push({ type: 'parse', path: `${dir}/${name}`, message: `cannot parse ${dir}/${name}: ${what}` });
  }

  outOfRange(token: string): void {
    this.rangeToken ??= token;
  }

  /**
   * After parsing `dir/name` with this Reading as the RangeSink: true, and one `range` error,
   * when a value was out of range (and left out); controllers that call parsers themselves
   * call it too.
   */
  rangeChecked(dir: string, name: string): boolean {
    const token = this.rangeToken;
    if (token === undefined) return false;
    this.rangeToken = undefined;
    this.errors.push({ type: 'range', path: `${dir}/${name}`, message: `${dir}/${name}: ${JSON.stringify(token.slice(0, 40))} is out of range (0 to 2^63)` });
    return true;
  }

  /** Marks the cgroup gone when `dir` no longer exists (after a failed directory listing). */
  markGoneIfMissing(dir: string): void {
    this.gone = this.gone || !fs.existsSync(dir);
  }

  /** A single-integer file. */
  int(dir: string, name: string): number | undefined {
    const n = this.raw(dir, name);
    if (n < 0) return undefined;
    const v = singleValueBytes(this.buf, this.at, this.at + n, this);
    if (v === undefined && !this.rangeChecked(dir, name)) this.parseError(dir, name, `expected an integer, got ${JSON.stringify(this.textOf(n).slice(0, 40))}`);
    return v;
  }

  /** A limit file: undefined when unlimited, absent or malformed. */
  limit(dir: string, name: string): number | undefined {
    const n = this.raw(dir, name);
    if (n < 0) return undefined;
    const v = limitBytes(this.buf, this.at, this.at + n, this);
    if (v === undefined && !this.rangeChecked(dir, name))
      this.parseError(dir, name, `expected an integer or max, got ${JSON.stringify(this.textOf(n).slice(0, 40))}`);
    return finiteOrUndefined(v);
  }

  /** A `key value` file; a non-empty file with no valid line is a parse error. */
  keyed(dir: string, name: string): Map<string, number> | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const m = parseFlatKeyed(t, this);
    if (this.rangeChecked(dir, name) && m.size === 0) return undefined;
    if (m.size === 0 && t.trim() !== '') {
      this.parseError(dir, name, 'no "key value" line');
      return undefined;
    }
    return m;
  }

  /**
   * `keyed(dir, name)` with the values of `keys` only, in their order (`keys.values`: read them
   * before the next read with the same keys): the same errors, undefined where keyed() gives
   * undefined, and no map.
   */
  keyedValues(dir: string, name: string, keys: FlatKeys): ReadonlyArray<number | undefined> | undefined {
    return this.scanned(dir, name, keys, true) ? keys.values : undefined;
  }

  /** `pickKeys(keyed(dir, name), keys)`, without building the whole map. */
  picked<K extends string>(dir: string, name: string, keys: FlatKeys<K>): Partial<Record<K, number>> | undefined {
    if (!this.scanned(dir, name, keys, false)) return undefined;
    const values: Partial<Record<K, number>> = {};
    const found = keys.values;
    for (let i = 0; i < found.length; i++) {
      const v = found[i];
      if (v !== undefined) values[keys.keys[i] as K] = v;
    }
    return values;
  }

  /**
   * Reads a `key value` file into `keys.values` (see scanFlatKeyed: `all` checks every line's
   * value for range, as keyed() does): false, with keyed()'s errors, where keyed() gives undefined.
   */
  private scanned(dir: string, name: string, keys: FlatKeys, all: boolean): boolean {
    const n = this.raw(dir, name);
    if (n < 0) return false;
    const valid = scanFlatKeyed(this.buf, this.at, this.at + n, keys, this, all);
    if (this.rangeChecked(dir, name) && !valid) return false;
    if (!valid && this.textOf(n).trim() !== '') {
      this.parseError(dir, name, 'no "key value" line');
      return false;
    }
    return true;
  }
}

/**
 * A Reading alive for as long as the module: V8 holds an object's hidden class only weakly from
 * the class's first one, so with no Reading alive (between two collections) a full GC drops it
 * and, with it, the optimized code of everything that reads through a Reading ("weak objects"
 * deoptimizations, seen at every round of bench:read-cycle): the next read ran unoptimized.
 */
export const READING_SHAPE = new Reading(new FileReader(0), { absent: new Set() }, { name: (major, minor) => `${major}:${minor}` });
