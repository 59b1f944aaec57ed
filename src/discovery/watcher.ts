import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Hierarchy } from '../cgroup/mounts.ts';
import { parseFlatKeyed } from '../cgroup/parse/values.ts';
import { resolveCgroup } from '../cgroup/resolve.ts';
import type { TaskCgroup } from '../cgroup/types.ts';
import type { CgroupMetrics, StopResult } from '../metrics/cgroup-metrics.ts';
import { matchTask, worthWatching, type DiscoveredTask, type Layout } from './layouts.ts';

export interface DiscoveryOptions {
  layouts: readonly Layout[];
  /** Full rescan (backstop for missed events), ms. Default 10,000. */
  rescanIntervalMs?: number;
  /** Without a cgroup2 directory to watch (pure v1): how often cgroup.procs is checked for emptiness, ms. Default 1,000. */
  emptyPollMs?: number;
  /** Called for each task added or stopped (logs, tests). */
  onEvent?: (e: DiscoveryEvent) => void;
}

export type DiscoveryEvent =
  | { type: 'added'; task: DiscoveredTask; path: string }
  | { type: 'stopped'; task: DiscoveredTask; path: string; result: StopResult; trigger: 'populated' | 'empty' | 'removed' | 'rescan' }
  | { type: 'error'; path: string; message: string };

interface Known {
  task: DiscoveredTask;
  path: string;
  cgroup: TaskCgroup;
  /** cgroup.events to watch (v2, or the cgroup2 mirror on hybrid hosts). */
  eventsFile?: string;
  eventsWatch?: fs.FSWatcher;
  /** v1-only hosts: cgroup.procs polled for emptiness. */
  procsFile?: string;
  stopping: boolean;
}

/**
 * Finds tasks by their cgroup layout and keeps the engine's registry in step: new cgroups
 * through inotify (fs.watch on the directories where tasks appear, never on every leaf) with a
 * periodic rescan as backstop; the final reading when the task's cgroup.events turns to
 * `populated 0` — before the runtime removes the directory — or, on a pure v1 host, when
 * cgroup.procs turns empty; and, if the directory vanished first, the last periodic reading.
 */
export class Discovery {
  private readonly dirWatches = new Map<string, fs.FSWatcher>();
  private readonly known = new Map<string, Known>();
  /** Task directories already given their final reading but not yet removed: never re-added. */
  private readonly ended = new Set<string>();
  private rescanTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly root: Hierarchy;
  private readonly v2: Hierarchy | undefined;

  constructor(
    private readonly engine: CgroupMetrics,
    private readonly options: DiscoveryOptions,
  ) {
    const m = engine.mounts;
    // Scan one hierarchy: v2's, or one v1 controller's (runtimes create the task in all of them).
    const v1 = m.v1.get('cpu') ?? m.v1.get('cpuacct') ?? m.v1.get('memory') ?? m.v1.get('pids');
    this.root = (m.mode === 'v2' ? m.v2 : v1) as Hierarchy;
    this.v2 = m.v2;
  }

  /** Watches in place now. */
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
    if (!this.v2 || this.engine.mounts.mode === 'v1') {
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
    for (const k of this.known.values()) k.eventsWatch?.close();
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
    const task = matchTask(this.options.layouts, rel);
    if (task) this.addTask(rel, task);
    else if (worthWatching(this.options.layouts, rel)) this.scan(rel);
  }

  private watchDir(rel: string): void {
    if (this.dirWatches.has(rel)) return;
    try {
      const w = fs.watch(this.abs(rel), { persistent: false }, (_event, name) => {
        if (name) this.onDirEvent(rel, String(name));
      });
      w.on('error', () => this.unwatchDir(rel));
      this.dirWatches.set(rel, w);
    } catch (err) {
      this.options.onEvent?.({ type: 'error', path: this.abs(rel), message: `cannot watch: ${(err as Error).message}` });
    }
  }

  private unwatchDir(rel: string): void {
    this.dirWatches.get(rel)?.close();
    this.dirWatches.delete(rel);
  }

  private onDirEvent(parent: string, name: string): void {
    if (this.closed) return;
    const rel = parent === '/' ? `/${name}` : `${parent}/${name}`;
    let isDir: boolean | undefined;
    try {
      isDir = fs.statSync(this.abs(rel)).isDirectory();
    } catch {
      isDir = undefined; // gone
    }
    if (isDir === true) {
      if (!this.known.has(rel) && !this.dirWatches.has(rel)) this.consider(rel);
    } else if (isDir === undefined) {
      // Removed: a task whose final reading was not taken falls back to its last periodic reading.
      const k = this.known.get(rel);
      if (k) void this.finish(k, 'removed');
      this.ended.delete(rel);
      for (const w of [...this.dirWatches.keys()]) if (w === rel || w.startsWith(`${rel}/`)) this.unwatchDir(w);
    }
  }

  private addTask(rel: string, task: DiscoveredTask): void {
    if (this.known.has(rel) || this.ended.has(rel)) return;
    let cgroup: TaskCgroup;
    try {
      cgroup = resolveCgroup(this.engine.mounts, rel);
    } catch {
      return; // vanished before we could look: nothing was running long enough to read
    }
    if (this.engine.has(task.id, task.namespace)) return; // the same id under another path (v1 twin); first wins
    try {
      this.engine.add({ id: task.id, namespace: task.namespace, cgroup, attributes: task.attributes });
    } catch (err) {
      this.options.onEvent?.({ type: 'error', path: rel, message: (err as Error).message });
      return;
    }
    const k: Known = { task, path: rel, cgroup, stopping: false };
    const v2dir = cgroup.version === 2 ? cgroup.dir : cgroup.unified;
    if (v2dir) {
      k.eventsFile = path.join(v2dir, 'cgroup.events');
      try {
        k.eventsWatch = fs.watch(k.eventsFile, { persistent: false }, () => this.onEvents(k));
        k.eventsWatch.on('error', () => undefined);
      } catch {
        // no cgroup.events (an old kernel): the v1 emptiness poll covers it
        delete k.eventsFile;
      }
    }
    if (!k.eventsFile && cgroup.version === 1) {
      const dir = cgroup.dirs.cpuacct ?? cgroup.dirs.cpu ?? cgroup.dirs.memory ?? cgroup.dirs.pids;
      if (dir) k.procsFile = path.join(dir, 'cgroup.procs');
    }
    this.known.set(rel, k);
    this.options.onEvent?.({ type: 'added', task, path: rel });
    // It may have run and ended before the watch was set: populated 0 with CPU time used means over.
    if (this.hasEnded(k)) void this.finish(k, k.eventsFile ? 'populated' : 'empty');
  }

  private populated(k: Known): boolean | undefined {
    try {
      if (k.eventsFile) return parseFlatKeyed(fs.readFileSync(k.eventsFile, 'latin1')).get('populated') !== 0;
      if (k.procsFile) return fs.readFileSync(k.procsFile, 'latin1').trim() !== '';
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
        return (parseFlatKeyed(fs.readFileSync(path.join(dir, 'cpu.stat'), 'latin1')).get('usage_usec') ?? 0) > 0;
      }
      const acct = c.dirs.cpuacct;
      return acct !== undefined && Number(fs.readFileSync(path.join(acct, 'cpuacct.usage'), 'latin1')) > 0;
    } catch {
      return false;
    }
  }

  /** cgroup.events changed: `populated 0` after a change means the last process left. */
  private onEvents(k: Known): void {
    if (k.stopping || this.closed) return;
    if (this.populated(k) === false) void this.finish(k, 'populated');
  }

  private pollEmpty(): void {
    for (const k of this.known.values()) if (k.procsFile && !k.stopping && this.hasEnded(k)) void this.finish(k, 'empty');
  }

  private async finish(k: Known, trigger: 'populated' | 'empty' | 'removed' | 'rescan'): Promise<void> {
    if (k.stopping) return;
    k.stopping = true;
    k.eventsWatch?.close();
    this.known.delete(k.path);
    if (trigger !== 'removed') this.ended.add(k.path);
    if (!this.engine.has(k.task.id, k.task.namespace)) return;
    const result = await this.engine.stop(k.task.id, k.task.namespace);
    this.options.onEvent?.({ type: 'stopped', task: k.task, path: k.path, result, trigger });
  }

  /** Backstop: finds what events missed, both new tasks and vanished ones. */
  rescan(): void {
    if (this.closed) return;
    for (const k of [...this.known.values()]) {
      if (!fs.existsSync(this.abs(k.path))) void this.finish(k, 'rescan');
      else if (this.hasEnded(k)) void this.finish(k, k.eventsFile ? 'populated' : 'empty');
    }
    for (const rel of [...this.dirWatches.keys()]) if (!fs.existsSync(this.abs(rel))) this.unwatchDir(rel);
    for (const rel of [...this.ended]) if (!fs.existsSync(this.abs(rel))) this.ended.delete(rel);
    this.scan('/');
  }
}
