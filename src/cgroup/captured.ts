import { getSystemErrorName } from 'node:util';
import { FileReader } from './file-reader.ts';

/** One file as read elsewhere: its bytes, or the errno its read failed with. */
export type CapturedContent = Uint8Array | number;

/**
 * A task's cgroup files as the events thread read them the moment its cgroup.events said
 * `populated 0` (native/cgroup-events.c), before the runtime could remove the directory.
 * `wakeMs` / `doneMs` / `deliveredMs`: wall clock (ms since the epoch, fractional) when that
 * thread woke, when its last read returned, and when the JavaScript thread got them.
 */
export interface CapturedFiles {
  readonly files: ReadonlyMap<string, CapturedContent>;
  readonly wakeMs: number;
  readonly doneMs: number;
  readonly deliveredMs: number;
}

/**
 * Serves captured contents to readStats as if it read them now (the task's own read state: its
 * v1 CPU split, its kept network file); any file not captured is read as usual.
 */
export class CapturedReader extends FileReader {
  constructor(private readonly captured: ReadonlyMap<string, CapturedContent>) {
    // The usual buffer: a file not captured (a kept /proc/<pid>/net/dev) is read live in one
    // read. Its process gone, a second positional read of it at a later offset reads nothing.
    super();
  }

  override read(file: string): string {
    return this.served(file) ?? super.read(file);
  }

  override readFd(fd: number, file: string, positional = true): string {
    return this.served(file) ?? super.readFd(fd, file, positional);
  }

  private served(file: string): string | undefined {
    const c = this.captured.get(file);
    if (c === undefined) return undefined;
    if (typeof c === 'number') {
      const code = errnoName(c);
      throw Object.assign(new Error(`${code}: cannot read ${file} (at populated 0)`), { code, errno: -c });
    }
    return Buffer.from(c.buffer, c.byteOffset, c.byteLength).toString('latin1');
  }
}

function errnoName(errno: number): string {
  try {
    return getSystemErrorName(-errno);
  } catch {
    return 'EIO';
  }
}

/**
 * Notes the cgroup files a read went through (the list the events thread captures at
 * `populated 0`); `/proc` files are left out: a network file is read through its kept
 * descriptor, which outlives the process.
 */
export class RecordingReader extends FileReader {
  files: string[] = [];
  /** Inside read(): FileReader.read may read through readFd, and a file is noted once. */
  private reading = false;

  override read(file: string): string {
    this.reading = true;
    try {
      const t = super.read(file);
      this.note(file);
      return t;
    } finally {
      this.reading = false;
    }
  }

  override readFd(fd: number, file: string, positional = true): string {
    const t = super.readFd(fd, file, positional);
    if (!this.reading) this.note(file);
    return t;
  }

  /** The files noted since the last take(), and a fresh list. */
  take(): string[] {
    const f = this.files;
    this.files = [];
    return f;
  }

  private note(file: string): void {
    if (!file.startsWith('/proc/')) this.files.push(file);
  }
}
