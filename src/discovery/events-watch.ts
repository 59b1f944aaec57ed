import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { CapturedFiles } from '../cgroup/captured.ts';
import { readRegularFile } from '../regular-file.ts';
import { nativeEvents, type NativeEvents, type NativeHandle } from './native-events.ts';

/**
 * Change notification for cgroup.events files. The kernel wakes poll()ers of the file at once, in
 * the context of the exiting task, but delivers inotify later from a shared workqueue: on a busy
 * node that kworker waits behind the containers' own CPU and the event can arrive after runc has
 * removed the cgroup (figures in BENCHMARKS.md). So: epoll (EPOLLPRI, the same wake-up systemd
 * uses) on a native thread of its own (native-events.ts), which also reads the task's files at
 * `populated 0` before any JavaScript runs; inotify where the addon was not built.
 */
export type EventsMechanism = 'native' | 'inotify';

export interface EventsWatch {
  close(): void;
  /** True while a native watch is in place: no change can be missed, so no backstop check is needed. */
  readonly reliable: boolean;
  /**
   * The files the events thread reads the moment the file says `populated 0` (native only; the
   * listener gets them). Replaces the list.
   */
  capture(files: readonly string[]): void;
}

/**
 * Called with the file's new text, or undefined once it can no longer be read (the cgroup is
 * gone); at `populated 0`, with the captured files when a list was given.
 */
export type EventsListener = (text: string | undefined, captured?: CapturedFiles) => void;

const BUF_SIZE = 4096;

/** One native epoll thread for many files; falls back to fs.watch per file when the addon is absent. */
export class EventsWatcher {
  readonly mechanism: EventsMechanism;
  /** Why the native thread is not used ('built' when it is). */
  readonly nativeStatus: string;
  private readonly mod: NativeEvents | undefined;
  private handle: NativeHandle | undefined;
  private readonly byId = new Map<number, { fd: number; listener: EventsListener }>();
  private nextId = 1;
  private readonly buf = Buffer.allocUnsafe(BUF_SIZE);

  /**
   * `nice`: the native thread's nice value (default -10, where the process may: CAP_SYS_NICE;
   * 0 leaves it at the process's). It sleeps but for a few reads per ended task; the weight
   * lets it run at once on CPUs the containers keep busy (figures in BENCHMARKS.md).
   */
  constructor(private readonly nice = -10) {
    const n = nativeEvents();
    this.mod = n.mod;
    this.nativeStatus = n.why;
    this.mechanism = this.mod ? 'native' : 'inotify';
  }

  /** Watches `file`; throws (ENOENT, EMFILE, ...) when it cannot be opened or watched. */
  watch(file: string, listener: EventsListener): EventsWatch {
    const mod = this.mod;
    if (!mod) {
      const w = fs.watch(file, { persistent: false }, () => listener(readText(file)));
      w.on('error', () => undefined);
      return { close: () => w.close(), reliable: false, capture: () => undefined };
    }
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const id = this.nextId++;
    try {
      // Read once: kernfs reports a change relative to the open file's last read.
      fs.readSync(fd, this.buf, 0, BUF_SIZE, 0);
      this.handle ??= mod.open((wid, text, captures, wakeMs, doneMs) => this.onEvent(wid, text, captures, wakeMs, doneMs), this.nice);
      mod.watch(this.handle, fd, id);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    const entry = { fd, listener };
    this.byId.set(id, entry);
    const byId = this.byId;
    return {
      close: () => this.unwatch(id),
      get reliable() {
        return byId.get(id) === entry;
      },
      capture: (files) => {
        if (this.handle && byId.get(id) === entry) mod.capture(this.handle, id, files);
      },
    };
  }

  /** Every watch ended, and the native thread with them. */
  close(): void {
    for (const id of [...this.byId.keys()]) this.unwatch(id);
    if (this.handle) this.mod?.close(this.handle);
    this.handle = undefined;
  }

  get size(): number {
    return this.byId.size;
  }

  private onEvent(id: number, text: string | undefined, captures: Array<[string, Uint8Array | number]> | undefined, wakeMs: number, doneMs: number): void {
    const entry = this.byId.get(id);
    if (!entry) return; // unwatched after the thread read it
    if (text === undefined) this.unwatch(id); // removed (ENODEV): nothing more will change
    try {
      const deliveredMs = captures ? performance.timeOrigin + performance.now() : 0;
      entry.listener(text, captures ? { files: new Map(captures), wakeMs, doneMs, deliveredMs } : undefined);
    } catch (err) {
      // Node-API would only warn about an exception thrown here: it surfaces as any other would.
      process.nextTick(() => {
        throw err;
      });
    }
  }

  private unwatch(id: number): void {
    const entry = this.byId.get(id);
    if (!entry) return;
    this.byId.delete(id);
    if (this.handle) this.mod?.unwatch(this.handle, id);
    fs.closeSync(entry.fd);
  }
}

function readText(file: string): string | undefined {
  try {
    return readRegularFile(file, 1 << 20);
  } catch {
    return undefined;
  }
}
