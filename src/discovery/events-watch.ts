import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { readRegularFile } from '../regular-file.ts';

/**
 * Change notification for cgroup.events files. The kernel wakes poll()ers of the file at once, in
 * the context of the exiting task, but delivers inotify later from a shared workqueue: on a busy
 * node that kworker waits behind the containers' own CPU and the event can arrive after runc has
 * removed the cgroup (figures in BENCHMARKS.md). So: epoll (EPOLLPRI, the same wake-up systemd
 * uses) through the `epoll` addon where it built, inotify otherwise.
 */
export type EventsMechanism = 'epoll' | 'inotify';

export interface EventsWatch {
  close(): void;
  /** True while an epoll watch is in place: no change can be missed, so no backstop check is needed. */
  readonly reliable: boolean;
}

/** Called with the file's new text, or undefined once it can no longer be read (the cgroup is gone). */
export type EventsListener = (text: string | undefined) => void;

interface NativeEpoll {
  add(fd: number, events: number): void;
  remove(fd: number): void;
  close(): void;
}
interface EpollModule {
  Epoll: { new (cb: (err: Error | null, fd: number, events: number) => void): NativeEpoll; EPOLLPRI: number };
}

function loadEpoll(): EpollModule | undefined {
  if (process.platform !== 'linux' || process.env.OCM_NO_EPOLL === '1') return undefined;
  try {
    const mod = createRequire(import.meta.url)('epoll') as EpollModule;
    return typeof mod.Epoll === 'function' ? mod : undefined;
  } catch {
    return undefined; // optional dependency not built (no compiler where it was installed)
  }
}

const BUF_SIZE = 4096;

/** One epoll set for many files; falls back to fs.watch per file when the addon is absent. */
export class EventsWatcher {
  readonly mechanism: EventsMechanism;
  private readonly mod: EpollModule | undefined;
  private epoll: NativeEpoll | undefined;
  private readonly byFd = new Map<number, EventsListener>();
  private readonly buf = Buffer.allocUnsafe(BUF_SIZE);

  constructor() {
    this.mod = loadEpoll();
    this.mechanism = this.mod ? 'epoll' : 'inotify';
  }

  /** Watches `file`; throws (ENOENT, EMFILE, ...) when it cannot be opened or watched. */
  watch(file: string, listener: EventsListener): EventsWatch {
    if (!this.mod) {
      const w = fs.watch(file, { persistent: false }, () => listener(readText(file)));
      w.on('error', () => undefined);
      return { close: () => w.close(), reliable: false };
    }
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      // Read once: kernfs reports a change relative to the open file's last read.
      this.read(fd);
      this.epoll ??= new this.mod.Epoll((err, efd) => this.onEvent(err, efd));
      this.epoll.add(fd, this.mod.Epoll.EPOLLPRI);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    this.byFd.set(fd, listener);
    const byFd = this.byFd;
    return {
      close: () => this.unwatch(fd),
      get reliable() {
        return byFd.get(fd) === listener;
      },
    };
  }

  /** Every watch ended; the native thread's handle no longer keeps the process alive. */
  close(): void {
    for (const fd of [...this.byFd.keys()]) this.unwatch(fd);
  }

  get size(): number {
    return this.byFd.size;
  }

  private read(fd: number): string {
    const n = fs.readSync(fd, this.buf, 0, BUF_SIZE, 0);
    return this.buf.toString('latin1', 0, n);
  }

  private onEvent(err: Error | null, fd: number): void {
    const listener = this.byFd.get(fd);
    if (!listener) return;
    let text: string | undefined;
    try {
      if (err) throw err;
      // Reading clears the level-triggered EPOLLPRI; without it the event fires again and again.
      text = this.read(fd);
    } catch {
      this.unwatch(fd); // removed (ENODEV): nothing more will change
      text = undefined;
    }
    listener(text);
  }

  private unwatch(fd: number): void {
    if (!this.byFd.delete(fd)) return;
    try {
      this.epoll?.remove(fd);
    } catch {
      // already dropped by the kernel
    }
    fs.closeSync(fd);
  }
}

function readText(file: string): string | undefined {
  try {
    return readRegularFile(file, 1 << 20);
  } catch {
    return undefined;
  }
}
