import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Hierarchy } from '../cgroup/mounts.ts';
import { parseFlatKeyed } from '../cgroup/parse/file-formats.ts';
import type { CapturedFiles } from '../cgroup/captured.ts';
import { processesDir, resolveCgroup, withLateDirs } from '../cgroup/resolve.ts';
import { V1_CONTROLLERS, type TaskCgroup } from '../cgroup/types.ts';
import type { CgroupMetrics, StopResult, TaskHandle } from '../metrics/cgroup-metrics.ts';
import { EventsWatcher, type EventsMechanism, type EventsWatch } from './events-watch.ts';
import { classify, type DiscoveredTask, type Layout } from './layouts.ts';
import type { MetadataLookups } from './metadata/lookups.ts';
import { ConfigError } from '../errors.ts';
import { durationOption } from '../integer-setting.ts';
import { readRegularFile } from '../regular-file.ts';

/**
 * Every file discovery reads: regular files only, opened O_NONBLOCK (a FIFO planted in a --root
 * tree never blocks the process), bounded (cgroup.procs of a very large cgroup fits).
 */
const read = (file: string): string => readRegularFile(file, 16 << 20);

/** How long directories of a task's cgroup missing at its add are looked for (each emptiness poll). */
const LATE_DIRS_MS = 30_000;
/** Retries of an add whose cgroup is incomplete, 2, 4, ... 64 ms apart (~130 ms in all). */
const ADD_RETRIES = 6;

export interface DiscoveryOptions {
  layouts: readonly Layout[];
  /** Full rescan (backstop for missed events), ms. Default 10,000. */
  rescanIntervalMs?: number;
  /** Without a cgroup2 directory to watch (pure v1): how often cgroup.procs is checked for emptiness, ms. Default 1,000. */
  emptyPollMs?: number;
  /** Called for each task added or stopped (logs, tests). */
  onEvent?: (e: DiscoveryEvent) => void;
  /** Names each task from its runtime's API (and its start time) away from the collection path. */
  metadata?: MetadataLookups;
  /**
   * The nice value of the thread that waits on cgroup.events and reads a task's files at its
   * end (default -10 where permitted; 0: the process's own). See EventsWatcher.
   */
  eventsNice?: number;
}

export type DiscoveryEvent =
  | { type: 'added'; task: DiscoveredTask; path: string }
  | {
      type: 'stopped';
      task: DiscoveredTask;
      path: string;
      result: StopResult;
      trigger: 'populated' | 'empty' | 'removed' | 'rescan';
      /**
       * The final reading's files were read by the events thread at `populated 0`: when it woke,
       * when its reads were done and when this thread got them (wall clock, ms).
       */
      captured?: { wakeMs: number; doneMs: number; deliveredMs: number };
    }
  | { type: 'error'; path: string; message: string; code?: string };

interface Known {
  task: DiscoveredTask;
  path: string;
  cgroup: TaskCgroup;
  /** cgroup.events to watch (v2, or the cgroup2 mirror on hybrid hosts). */
  eventsFile?: string;
  eventsWatch?: EventsWatch;
  /** v1-only hosts: cgroup.procs polled for emptiness. */
  procsFile?: string;
  /** The directory's inode: a directory removed and made again under the same path is another task. */
  ino?: number;
  stopping: boolean;
  /**
   * Until when (ms) its missing directories (a v1 hierarchy's, the cgroup2 twin) are looked for:
   * a runtime makes them one hierarchy after another, its namespace's parent directories too.
   * 0: none missing.
   */
  lateUntil: number;
}

/**
 * Finds tasks by their cgroup layout and keeps the engine's registry in step: new cgroups
 * through inotify (fs.watch on the directories where tasks appear, never on every leaf) with a
 * periodic rescan as backstop; the final reading when the task's cgroup.events turns to
 * `populated 0` — before the runtime removes the directory — or, on a pure v1 host, when
 * cgroup.procs turns empty; and, if the directory vanished first, the last reading taken
 * (each task gets a first reading at once, and more while young).
 */
export class Discovery {
  private readonly dirWatches = new Map<string, fs.FSWatcher>();
  /** The inode of each watched directory: a watch on a directory removed and made again at once is dead. */
  private readonly dirInodes = new Map<string, number>();
  private readonly known = new Map<string, Known>();
  /** Tasks whose cgroup directories are still being made (see addTask): path → retry timer. */
  private readonly pendingAdds = new Map<string, NodeJS.Timeout>();
  /** Task directories already given their final reading but not yet removed (path → inode): never re-added. */
  private readonly ended = new Map<string, number | undefined>();
  private rescanTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly root: Hierarchy;
  private readonly v2: Hierarchy | undefined;
  private readonly events: EventsWatcher;

  constructor(
    private readonly engine: CgroupMetrics,
    private readonly options: DiscoveryOptions,
  ) {
    const m = engine.mounts;
    // Scan one hierarchy: v2's, or one v1 controller's (runtimes create the task in all of them).
    const v1 = m.v1.get('cpu') ?? m.v1.get('cpuacct') ?? m.v1.get('memory') ?? m.v1.get('pids');
    this.root = (m.mode === 'v2' ? m.v2 : v1) as Hierarchy;
    this.v2 = m.v2;
    if (options.eventsNice !== undefined && !(Number.isInteger(options.eventsNice) && options.eventsNice >= -20 && options.eventsNice <= 19))
      throw new ConfigError(`eventsNice must be an integer from -20 to 19, got ${options.eventsNice}`);
    this.events = new EventsWatcher(options.eventsNice);
    if (options.rescanIntervalMs !== undefined) durationOption(options.rescanIntervalMs, 'rescanIntervalMs');
    if (options.emptyPollMs !== undefined) durationOption(options.emptyPollMs, 'emptyPollMs');
  }

  /** How cgroup.events changes arrive: epoll (immediate) or inotify (the fallback; can lag behind rmdir). */
  get eventsMechanism(): EventsMechanism {
    return this.events.mechanism;
  }

  /** Why the native events thread is not used ('built' when it is). */
  get eventsStatus(): string {
    return this.events.nativeStatus;
  }

  /** Watches in place now (directory watches and cgroup.events watches). */
  get watchCount(): number {
    let n = this.dirWatches.size;
    for (const k of this.known.values()) if (k.eventsWatch) n++;
    return n;
  }

  get taskCount(): number {
    return this.known.size;
  }

  /** Initial scan, then watching. */
  start(): void {
    this.scan('/');
    const rescan = this.options.rescanIntervalMs ?? 10_000;
    this.rescanTimer = setInterval(() => this.rescan(), rescan);
    this.rescanTimer.unref();
    // Pure v1: the emptiness poll. Hybrid: also, for the tasks whose cgroup2 twin did not exist
    // yet when they were added (runtimes make it after the v1 directories): it attaches the
    // twin's cgroup.events once it appears, and polls cgroup.procs until then.
    if (this.engine.mounts.mode !== 'v2') {
      this.pollTimer = setInterval(() => this.pollEmpty(), this.options.emptyPollMs ?? 1_000);
      this.pollTimer.unref();
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.rescanTimer);
    clearInterval(this.pollTimer);
    for (const w of this.dirWatches.values()) w.close();
    this.dirWatches.clear();
    for (const t of this.pendingAdds.values()) clearTimeout(t);
    this.pendingAdds.clear();
    for (const k of this.known.values()) k.eventsWatch?.close();
    this.events.close();
  }

  private abs(rel: string): string {
    return rel === '/' ? this.root.mountPoint : path.join(this.root.mountPoint, rel);
  }

  /** Walks `rel` (a watched directory): watches it, registers tasks below, descends where layouts may have tasks. */
  private scan(rel: string): void {
    if (this.closed) return;
    this.watchDir(rel);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.abs(rel), { withFileTypes: true });
    } catch {
      return; // removed meanwhile: the parent's event or the rescan deals with it
    }
    for (const e of entries) if (e.isDirectory()) this.consider(rel === '/' ? `/${e.name}` : `${rel}/${e.name}`);
  }

  private consider(rel: string): void {
    const what = classify(this.options.layouts, rel);
    if (what === 'descend') this.scan(rel);
    else if (what) this.addTask(rel, what);
  }

  private watchDir(rel: string): void {
    if (this.dirWatches.has(rel)) return;
    try {
      const ino = fs.statSync(this.abs(rel)).ino;
      const w = fs.watch(this.abs(rel), { persistent: false }, (_event, name) => {
        if (name) this.onDirEvent(rel, String(name));
      });
      w.on('error', () => this.unwatchDir(rel));
      this.dirWatches.set(rel, w);
      this.dirInodes.set(rel, ino);
    } catch (err) {
      // Removed between the readdir and the watch: its parent's event (or the rescan) deals with it.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.watchFailed(this.abs(rel), err, 'new tasks below it are found by the rescan');
    }
  }

  private unwatchDir(rel: string): void {
    this.dirWatches.get(rel)?.close();
    this.dirWatches.delete(rel);
    this.dirInodes.delete(rel);
  }

  private unwatchTree(rel: string): void {
    for (const w of [...this.dirWatches.keys()]) if (w === rel || w.startsWith(`${rel}/`)) this.unwatchDir(w);
  }

  private onDirEvent(parent: string, name: string): void {
    if (this.closed) return;
    const rel = parent === '/' ? `/${name}` : `${parent}/${name}`;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.abs(rel));
    } catch {
      st = undefined; // gone
    }
    if (st?.isDirectory()) {
      // Removed and made again before this event was handled: the old task is over, the old watch dead.
      const k = this.known.get(rel);
      if (k && k.ino !== undefined && k.ino !== st.ino) void this.finish(k, 'removed');
      if (this.dirWatches.has(rel) && this.dirInodes.get(rel) !== st.ino) this.unwatchTree(rel);
      if (!this.known.has(rel) && !this.dirWatches.has(rel)) this.consider(rel);
    } else if (!st) {
      // Removed: a task whose final reading was not taken falls back to its last reading (young or periodic).
      const k = this.known.get(rel);
      if (k) void this.finish(k, 'removed');
      this.ended.delete(rel);
      this.unwatchTree(rel);
    }
  }

  private addTask(rel: string, task: DiscoveredTask, attempt = 0): void {
    if (this.known.has(rel) || (attempt === 0 && this.pendingAdds.has(rel))) return;
    let cgroup: TaskCgroup;
    let ino: number;
    try {
      ino = fs.statSync(this.abs(rel)).ino;
      cgroup = resolveCgroup(this.engine.mounts, rel);
    } catch {
      return; // vanished before we could look: nothing was running long enough to read
    }
    if (this.ended.has(rel)) {
      if (this.ended.get(rel) === ino) return;
      this.ended.delete(rel); // made again under the same path (a restart): a new task
    }
    if (this.engine.has(task.id, task.namespace)) return; // the same id under another path (v1 twin); first wins
    // runc makes the task's directory in one hierarchy after another, the cgroup2 twin last: the
    // event for the scanned one (cpu) can come before cpuacct or the twin exist. Added then, the
    // task had no CPU readings and no cgroup.events watch (a short task was missed). Wait briefly.
    if (attempt < ADD_RETRIES && !this.complete(rel, cgroup)) {
      const t = setTimeout(() => {
        this.pendingAdds.delete(rel);
        if (!this.closed) this.addTask(rel, task, attempt + 1);
      }, 2 << attempt);
      t.unref();
      this.pendingAdds.set(rel, t);
      return;
    }
    let handle: TaskHandle;
    try {
      // With the native events thread, the first reading is recordFiles()'s (captureFiles).
      const firstReading = this.events.mechanism !== 'native';
      handle = this.engine.add({ id: task.id, namespace: task.namespace, cgroup, attributes: task.attributes, firstReading });
    } catch (err) {
      this.options.onEvent?.({ type: 'error', path: rel, message: (err as Error).message });
      return;
    }
    const k: Known = { task, path: rel, cgroup, ino, stopping: false, lateUntil: this.missingAny(cgroup) ? Date.now() + LATE_DIRS_MS : 0 };
    this.watchEvents(k);
    this.captureFiles(k);
    const procsFile = procsFileOf(cgroup);
    if (!k.eventsFile && cgroup.version === 1 && procsFile) k.procsFile = procsFile;
    this.known.set(rel, k);
    this.options.metadata?.track(task, handle, procsFile);
    this.options.onEvent?.({ type: 'added', task, path: rel });
    // It may have run and ended before the watch was set: populated 0 with CPU time used means over.
    if (this.hasEnded(k)) void this.finish(k, k.eventsFile ? 'populated' : 'empty');
  }

  /** v1/hybrid: a mounted hierarchy (or the cgroup2 mount) has no directory of this cgroup yet. */
  private missingAny(c: TaskCgroup): boolean {
    if (c.version === 2) return false;
    for (const ctrl of V1_CONTROLLERS) if (this.engine.mounts.v1.has(ctrl) && !c.dirs[ctrl]) return true;
    return this.v2 !== undefined && !c.unified;
  }

  /** v1/hybrid: the task's directory exists in every hierarchy (and the cgroup2 mount) where its parent does. */
  private complete(rel: string, c: TaskCgroup): boolean {
    if (c.version === 2) return true;
    const parent = path.posix.dirname(rel);
    for (const ctrl of V1_CONTROLLERS) {
      const h = this.engine.mounts.v1.get(ctrl);
      if (h && !c.dirs[ctrl] && fs.existsSync(path.join(h.mountPoint, parent))) return false;
    }
    return !(this.v2 && !c.unified && fs.existsSync(path.join(this.v2.mountPoint, parent)));
  }

  /** Watches the task's cgroup.events (v2, or its cgroup2 twin on a hybrid host) when there is one. */
  private watchEvents(k: Known): void {
    const cgroup = k.cgroup;
    const v2dir = cgroup.version === 2 ? cgroup.dir : cgroup.unified;
    if (!v2dir) return;
    k.eventsFile = path.join(v2dir, 'cgroup.events');
    try {
      k.eventsWatch = this.events.watch(k.eventsFile, (text, captured) => this.onEvents(k, text, captured));
      delete k.procsFile;
    } catch (err) {
      // No cgroup.events (an old kernel), or not a kernfs file (a copied --root tree): the v1
      // emptiness poll or the rescan covers it. Running out of file descriptors or watches is
      // said and counted: the rescan checks the task instead.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EMFILE' || code === 'ENFILE' || code === 'ENOSPC' || code === 'ENOMEM')
        this.watchFailed(k.eventsFile, err, 'its end is found by the rescan');
      delete k.eventsFile;
    }
  }

  /**
   * Gives the events thread the files of the task's readings (noted by its first reading, or
   * after late directories by one more) to read the moment cgroup.events says `populated 0`: the
   * final reading then never depends on this thread being free before the runtime removes the
   * cgroup. Native events only; the reading is taken even where the watch failed (it is the
   * task's first reading).
   */
  private captureFiles(k: Known): void {
    if (this.events.mechanism !== 'native') return;
    const watch = k.eventsWatch;
    void this.engine.recordFiles(k.task.id, k.task.namespace).then((files) => {
      if (files && watch && !k.stopping && k.eventsWatch === watch) watch.capture(files);
    });
  }

  /** A watch that could not be set: counted by error type and reported (the agent logs it, rate-limited). */
  private watchFailed(file: string, err: unknown, fallback: string): void {
    const code = (err as NodeJS.ErrnoException).code;
    this.engine.countDiscoveryError(code ?? 'unknown');
    this.options.onEvent?.({ type: 'error', path: file, message: `cannot watch: ${(err as Error).message}; ${fallback}`, ...(code ? { code } : {}) });
  }

  /**
   * v1/hybrid: directories of the task's cgroup made after it was added (a slow runtime's other
   * hierarchies, the cgroup2 twin) join it: the engine reads them, and the twin's cgroup.events
   * is watched. Without this a task added before its cpuacct directory existed has no CPU
   * readings for its whole life.
   */
  private attachLate(k: Known): void {
    if (k.lateUntil === 0) return;
    if (Date.now() > k.lateUntil) {
      k.lateUntil = 0; // not made by now: that hierarchy is not the runtime's
      return;
    }
    let later: TaskCgroup;
    try {
      later = resolveCgroup(this.engine.mounts, k.path);
    } catch {
      return; // gone: the directory watch or the rescan ends it
    }
    if (later.version === 1 && later.unified && !fs.existsSync(path.join(later.unified, 'cgroup.events'))) delete later.unified;
    const next = withLateDirs(k.cgroup, later);
    if (next && this.engine.attachDirs(k.task.id, k.task.namespace, later)) {
      k.cgroup = next;
      if (!k.eventsFile) this.watchEvents(k);
      this.captureFiles(k); // the new directories' files too
      // It may have emptied meanwhile: the next poll or event sees it.
    }
    if (!this.missingAny(k.cgroup)) k.lateUntil = 0;
  }

  private populated(k: Known): boolean | undefined {
    try {
      if (k.eventsFile) return parseFlatKeyed(read(k.eventsFile)).get('populated') !== 0;
      if (k.procsFile) return read(k.procsFile).trim() !== '';
    } catch {
      return undefined;
    }
    return undefined;
  }

  /** Empty now, and it used CPU: it ran and is over (a new cgroup has not run yet). */
  private hasEnded(k: Known): boolean {
    if (this.populated(k) !== false) return false;
    try {
      const c = k.cgroup;
      if (c.version === 2 || c.unified) {
        const dir = c.version === 2 ? c.dir : (c.unified as string);
        return (parseFlatKeyed(read(path.join(dir, 'cpu.stat'))).get('usage_usec') ?? 0) > 0;
      }
      const acct = c.dirs.cpuacct;
      return acct !== undefined && Number(read(path.join(acct, 'cpuacct.usage'))) > 0;
    } catch {
      return false;
    }
  }

  /** cgroup.events changed: `populated 0` after a change means the last process left. */
  private onEvents(k: Known, text: string | undefined, captured: CapturedFiles | undefined): void {
    // undefined: the cgroup is gone; the directory watch (or the rescan) ends the task.
    if (k.stopping || this.closed || text === undefined) return;
    if (parseFlatKeyed(text).get('populated') === 0) void this.finish(k, 'populated', captured);
  }

  private pollEmpty(): void {
    for (const k of this.known.values()) {
      if (k.stopping) continue;
      // Polled until now: checked once more after an attach, because a twin's cgroup.events
      // watched from now on never reports a `populated 0` that came before the watch.
      const polled = k.procsFile !== undefined;
      this.attachLate(k);
      if (polled && this.hasEnded(k)) void this.finish(k, k.eventsFile ? 'populated' : 'empty');
    }
  }

  private async finish(k: Known, trigger: 'populated' | 'empty' | 'removed' | 'rescan', captured?: CapturedFiles): Promise<void> {
    if (k.stopping) return;
    k.stopping = true;
    k.eventsWatch?.close();
    this.known.delete(k.path);
    this.options.metadata?.untrack(k.task);
    if (trigger !== 'removed') this.ended.set(k.path, k.ino);
    if (!this.engine.has(k.task.id, k.task.namespace)) return;
    // Removed, or made again under the same path: reading the path now would read another cgroup.
    const gone = trigger === 'removed' || trigger === 'rescan';
    const result = await this.engine.stop(k.task.id, k.task.namespace, captured ? { captured } : { gone });
    this.options.onEvent?.({
      type: 'stopped',
      task: k.task,
      path: k.path,
      result,
      trigger,
      ...(captured ? { captured: { wakeMs: captured.wakeMs, doneMs: captured.doneMs, deliveredMs: captured.deliveredMs } } : {}),
    });
  }

  private inode(rel: string): number | undefined {
    try {
      return fs.statSync(this.abs(rel)).ino;
    } catch {
      return undefined;
    }
  }

  /** Backstop: finds what events missed, both new tasks and vanished ones. */
  rescan(): void {
    if (this.closed) return;
    for (const k of [...this.known.values()]) {
      const ino = this.inode(k.path);
      // Gone, or made again under the same path (the scan below adds the new one).
      if (ino === undefined || (k.ino !== undefined && ino !== k.ino)) void this.finish(k, 'rescan');
      // A live epoll watch misses nothing; inotify can (a full queue), polls and lost watches too.
      else if (!k.eventsWatch?.reliable && this.hasEnded(k)) void this.finish(k, k.eventsFile ? 'populated' : 'empty');
    }
    // Watches on directories that are gone, or were removed and made again (dead), are renewed by the scan.
    for (const [rel, ino] of [...this.dirInodes]) if (this.inode(rel) !== ino) this.unwatchTree(rel);
    for (const [rel, ino] of [...this.ended]) if (this.inode(rel) !== ino) this.ended.delete(rel);
    this.scan('/');
  }
}

/** The cgroup.procs that lists a task's processes. */
function procsFileOf(c: TaskCgroup): string | undefined {
  const dir = processesDir(c);
  return dir === undefined ? undefined : path.join(dir, 'cgroup.procs');
}
