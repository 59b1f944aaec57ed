import * as fs from 'node:fs';
import type { DeviceNames } from './devices.ts';
import type { FileReader } from './file-reader.ts';
import type { NetnsRegistry } from './netns.ts';
import { finiteOrUndefined, parseFlatKeyed, parseLimit, parseSingleValue, pickFlatKeyed, type RangeSink } from './parse/file-formats.ts';
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
  constructor(
    private readonly reader: FileReader,
    /** The task's memory between reads. */
    readonly state: ReadState,
    readonly deviceNames: DeviceNames,
    /** Network namespaces: absent, no network is read (a copied tree's pids are not its processes). */
    readonly netns?: NetnsRegistry,
  ) {}

  /** The file's text; undefined when it is absent, unreadable (an error) or the cgroup is gone. */
  text(dir: string, name: string): string | undefined {
    if (this.gone) return undefined;
    const file = `${dir}/${name}`;
    // The name first: it is a literal, hashed once, where the fresh path would hash at every
    // read; keeping the paths per task instead would cost heap for every task.
    if (this.state.absentNames?.includes(name) && this.state.absent.has(file)) return undefined;
    try {
      return this.readFile(dir, name, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      if (code === NOT_REGULAR) {
        this.parseError(dir, name, 'not a regular file');
        return undefined;
      }
      if (code === 'ENOENT' || code === 'ENODEV') {
        // ENODEV: the file was open while its cgroup was removed. ENOENT: the file or the cgroup is gone.
        if (code === 'ENODEV' || !fs.existsSync(dir)) {
          this.gone = true;
          this.errors.push({ type: 'ENOENT', path: dir, message: `cgroup ${dir} was removed` });
        } else {
          this.state.absent.add(file);
          if (this.state.absentNames) this.state.absentNames.push(name);
          else this.state.absentNames = [name]; // capacity 1: a first push would reserve 16
        }
        return undefined;
      }
      this.errors.push({ type: code, path: file, message: `cannot read ${file}: ${(err as Error).message}` });
      return undefined;
    }
  }

  /**
   * A file outside the cgroup (`/proc/<pid>/net/dev`), through the same kept files: its text, or
   * undefined on any error (the process is gone and nothing kept it open). Never marks the cgroup gone.
   */
  procText(dir: string, name: string): string | undefined {
    try {
      return this.readFile(dir, name, `${dir}/${name}`);
    } catch {
      return undefined;
    }
  }

  /**
   * Reads through the task's kept file (opened and kept at the first read while the budget has
   * room), else by open/read/close. Throws the errno error; a kept file that fails is closed
   * first, so that the next read opens it again or finds it gone.
   */
  private readFile(dir: string, name: string, file: string): string {
    const kept = this.state.kept;
    let fd = kept?.get(dir, name);
    try {
      if (fd === undefined && kept?.room) {
        const opened = this.reader.open(file);
        // A FIFO or device planted in the tree is never kept (nor read): fstat once, at open.
        let regular = false;
        try {
          regular = fs.fstatSync(opened).isFile();
        } finally {
          if (!regular) fs.closeSync(opened);
        }
        if (!regular) throw Object.assign(new Error('not a regular file'), { code: NOT_REGULAR });
        kept.keep(dir, name, opened);
        fd = opened;
      }
      if (fd !== undefined) return this.reader.readFd(fd, file);
      const t = this.reader.read(file);
      // A FIFO or device planted in the tree reads as empty (O_NONBLOCK, no writer): report it
      // instead of passing it on as an empty file. Only empty reads pay for the stat.
      if (t === '' && !fs.statSync(file).isFile()) throw Object.assign(new Error('not a regular file'), { code: NOT_REGULAR });
      return t;
    } catch (err) {
      if (fd !== undefined) kept?.drop(dir, name);
      throw err;
    }
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
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const v = parseSingleValue(t, this);
    if (v === undefined && !this.rangeChecked(dir, name)) this.parseError(dir, name, `expected an integer, got ${JSON.stringify(t.slice(0, 40))}`);
    return v;
  }

  /** A limit file: undefined when unlimited, absent or malformed. */
  limit(dir: string, name: string): number | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const v = parseLimit(t, this);
    if (v === undefined && !this.rangeChecked(dir, name)) this.parseError(dir, name, `expected an integer or max, got ${JSON.stringify(t.slice(0, 40))}`);
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

  /** `pickKeys(keyed(dir, name), keys)`, without building the whole map. */
  picked<K extends string>(dir: string, name: string, keys: readonly K[]): Partial<Record<K, number>> | undefined {
    const t = this.text(dir, name);
    if (t === undefined) return undefined;
    const { values, valid } = pickFlatKeyed(t, keys, this);
    if (this.rangeChecked(dir, name) && !valid) return undefined;
    if (!valid && t.trim() !== '') {
      this.parseError(dir, name, 'no "key value" line');
      return undefined;
    }
    return values;
  }
}
