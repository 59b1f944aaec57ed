import { performance } from 'node:perf_hooks';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { CycleResult } from './read-cycle.ts';
import { PROGRESS_DONE, PROGRESS_INC, PROGRESS_RETIRE, type FromReader, type ReaderData, type ReadItem, type ToReader } from './read-protocol.ts';
import type { OneReadOptions } from './read-one.ts';
import type { KeptCounts, ReaderTask, TaskReader } from './task-reader.ts';
import type { MetricGroup, ReadResult } from './types.ts';

export interface ThreadReaderOptions {
  groups: ReadonlySet<MetricGroup>;
  sliceMs: number;
  /** The file budget of the reading thread (0: keep none). */
  keepLimit: number;
  /** Read network namespaces (a real cgroup file system). */
  network: boolean;
  /** A read that has not returned after this long is a reader stuck in the kernel. Default 1,000 ms. */
  stuckMs?: number;
  /** Readers that may be stuck at once before reads stop altogether. Default 2. */
  maxStuck?: number;
}

interface Reader {
  worker: Worker;
  port: MessagePort;
  ctl: Int32Array;
  /** Figures of the last cycle's end. */
  kept: KeptCounts;
}

interface PendingCycle {
  tasks: readonly ReaderTask[];
  /** performance.now() clock. */
  deadline: number;
  results: Array<ReadResult | undefined>;
  index: Map<number, number>;
  started: number;
  resolve: (r: CycleResult) => void;
  timer: NodeJS.Timeout;
}

const WORKER_URL = new URL(`./read-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/**
 * Reads on a thread of its own, so that a read the kernel blocks (a hung FUSE or NFS file, a
 * kernfs read stalled under memory pressure) never holds the event loop: a collection returns by
 * its deadline with what was read, and scrapes, pushes, discovery and signals go on. A read that
 * has not returned after `stuckMs` marks its task stuck (skipped, counted as `timeout`, until the
 * read returns) and the thread is abandoned: a new one takes over every task (their files are
 * opened again; the v1 CPU split carries over). The abandoned thread, once its read returns,
 * closes its files and ends. At most `maxStuck` threads can be stuck at once; beyond that no read
 * is made until one comes back. A thread stuck in the kernel cannot be joined: a process that
 * exits then must end without waiting for it (see `stuck`).
 */
export class ThreadReader implements TaskReader {
  private current: Reader | undefined;
  private readonly abandoned = new Set<Reader>();
  /** Tasks whose read never returned, by incarnation: skipped until their reader comes back. */
  private readonly stuckTasks = new Set<number>();
  private readonly tasks = new Map<number, ReaderTask>();
  private seq = 0;
  private readonly ones = new Map<number, { inc: number; how: OneReadOptions | undefined; resolve: (r: ReadResult | undefined) => void }>();
  private readonly cycles = new Map<number, PendingCycle>();
  private watchdog: NodeJS.Timeout | undefined;
  private lastDone = -1;
  private sameSince = 0;
  private closed = false;
  private readonly stuckMs: number;
  private readonly maxStuck: number;

  constructor(private readonly o: ThreadReaderOptions) {
    this.stuckMs = o.stuckMs ?? 1_000;
    this.maxStuck = o.maxStuck ?? 2;
    this.current = this.spawn(o.keepLimit);
  }

  get stuck(): number {
    return this.abandoned.size;
  }

  add(task: ReaderTask): void {
    this.tasks.set(task.incarnation, task);
    this.post({ t: 'add', inc: task.incarnation, cgroup: task.cgroup });
  }

  attach(task: ReaderTask): void {
    this.post({ t: 'attach', inc: task.incarnation, cgroup: task.cgroup });
  }

  end(task: ReaderTask): void {
    this.tasks.delete(task.incarnation);
    this.post({ t: 'end', inc: task.incarnation });
  }

  release(task: ReaderTask): void {
    this.post({ t: 'release', inc: task.incarnation });
  }

  one(task: ReaderTask, how?: OneReadOptions): Promise<ReadResult | undefined> {
    if (!this.current || this.stuckTasks.has(task.incarnation)) return Promise.resolve(undefined);
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.ones.set(seq, { inc: task.incarnation, how, resolve });
      this.post({ t: 'one', seq, inc: task.incarnation, ...how });
      this.arm();
    });
  }

  cycle(tasks: readonly ReaderTask[], deadline: number): Promise<CycleResult> {
    const started = performance.now();
    const results = new Array<ReadResult | undefined>(tasks.length);
    const incs: number[] = [];
    const index = new Map<number, number>();
    tasks.forEach((t, i) => {
      if (this.stuckTasks.has(t.incarnation)) return;
      index.set(t.incarnation, i);
      incs.push(t.incarnation);
    });
    if (!this.current || incs.length === 0) return Promise.resolve({ results, timedOut: tasks.length, durationMs: 0 });
    const seq = ++this.seq;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finishCycle(seq, undefined), Math.max(0, deadline - performance.now()));
      this.cycles.set(seq, { tasks, deadline, results, index, started, resolve, timer });
      this.post({ t: 'cycle', seq, incs, deadlineEpochMs: Date.now() + (deadline - performance.now()) });
      this.arm();
    });
  }

  kept(): KeptCounts {
    const k = this.current?.kept ?? { open: 0, limit: this.o.keepLimit, tasks: 0 };
    let open = k.open;
    for (const r of this.abandoned) open += r.kept.open;
    return { open, limit: k.limit, tasks: k.tasks };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    for (const [seq] of this.cycles) this.finishCycle(seq, undefined);
    for (const [, one] of this.ones) one.resolve(undefined);
    this.ones.clear();
    const r = this.current;
    this.current = undefined;
    if (!r) return;
    // A read in progress gets stuckMs to return; one that does not is a reader stuck in the
    // kernel: terminate() (and the process's exit) would wait for it forever.
    Atomics.store(r.ctl, PROGRESS_RETIRE, 1);
    const until = performance.now() + this.stuckMs;
    while (Atomics.load(r.ctl, PROGRESS_INC) !== 0 && performance.now() < until) await new Promise((w) => setTimeout(w, 10));
    if (Atomics.load(r.ctl, PROGRESS_INC) !== 0) this.abandoned.add(r);
    else await r.worker.terminate();
  }

  private post(m: ToReader): void {
    this.current?.port.postMessage(m);
  }

  private spawn(keepLimit: number): Reader {
    const { port1, port2 } = new MessageChannel();
    const progress = new SharedArrayBuffer(12);
    const data: ReaderData = { port: port2, progress, groups: [...this.o.groups], keepLimit, sliceMs: this.o.sliceMs, network: this.o.network };
    // From the sources (tests, tsx): the worker registers tsx's loader itself, as a worker does
    // not inherit the main thread's module hooks.
    const worker = WORKER_URL.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((t) => t.register()).then(() => import(${JSON.stringify(WORKER_URL.href)}))`, {
          eval: true,
          workerData: data,
          transferList: [port2],
        })
      : new Worker(WORKER_URL, { workerData: data, transferList: [port2] });
    worker.unref();
    const r: Reader = { worker, port: port1, ctl: new Int32Array(progress), kept: { open: 0, limit: keepLimit, tasks: 0 } };
    port1.on('message', (m: FromReader) => this.onMessage(r, m));
    port1.unref();
    worker.on('error', () => this.abandon(r, false));
    return r;
  }

  private onMessage(r: Reader, m: FromReader): void {
    if (m.t === 'retired') {
      this.abandoned.delete(r);
      this.stuckTasks.delete(m.inc);
      if (!this.current && !this.closed) this.replace(); // reads had stopped at maxStuck
      return;
    }
    if (r !== this.current) return; // an abandoned reader's late answers: already given up
    if (m.t === 'one') {
      const one = this.ones.get(m.seq);
      this.ones.delete(m.seq);
      one?.resolve(this.take(m.item));
      return;
    }
    const c = this.cycles.get(m.seq);
    if (!c) return;
    for (const item of m.items) {
      const i = c.index.get(item[0]);
      const res = this.take(item);
      if (i !== undefined && res) c.results[i] = res;
    }
    if (m.t === 'done') {
      r.kept = m.kept;
      this.finishCycle(m.seq, m.durationMs);
    }
  }

  /** A read as the main thread keeps it: the v1 CPU split goes back into the task's state. */
  private take([inc, result, split]: ReadItem): ReadResult | undefined {
    const task = this.tasks.get(inc);
    if (task && split) task.state.cpuSplit = split;
    return result ?? undefined;
  }

  private finishCycle(seq: number, durationMs: number | undefined): void {
    const c = this.cycles.get(seq);
    if (!c) return;
    this.cycles.delete(seq);
    clearTimeout(c.timer);
    let read = 0;
    for (const r of c.results) if (r) read++;
    c.resolve({ results: c.results, timedOut: c.tasks.length - read, durationMs: durationMs ?? performance.now() - c.started });
  }

  /** Watches the reader while requests are out: the same read in progress for stuckMs is a reader stuck in the kernel. */
  private arm(): void {
    if (this.watchdog) return;
    this.lastDone = -1;
    this.watchdog = setInterval(() => this.check(), Math.max(50, this.stuckMs / 4));
    this.watchdog.unref();
  }

  private check(): void {
    const r = this.current;
    if (!r || (this.cycles.size === 0 && this.ones.size === 0)) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
      return;
    }
    const inc = Atomics.load(r.ctl, PROGRESS_INC);
    const done = Atomics.load(r.ctl, PROGRESS_DONE);
    if (inc === 0 || done !== this.lastDone) {
      this.lastDone = done;
      this.sameSince = performance.now();
      return;
    }
    if (performance.now() - this.sameSince >= this.stuckMs) {
      this.stuckTasks.add(inc);
      this.abandon(r, true);
    }
  }

  /**
   * Gives up a reader: a new one takes every task, and what the old one still owed (the rest
   * of a collection, by its deadline; single reads) is asked of it, but for the stuck task.
   * Without a new reader (maxStuck reached) the collections resolve with what came.
   */
  private abandon(r: Reader, stuck: boolean): void {
    if (r !== this.current) return;
    Atomics.store(r.ctl, PROGRESS_RETIRE, 1);
    if (stuck) this.abandoned.add(r);
    else void r.worker.terminate();
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    this.current = undefined;
    if (!this.closed && this.abandoned.size < this.maxStuck) this.replace();
    if (!this.current) {
      for (const [seq] of this.cycles) this.finishCycle(seq, undefined);
      for (const [, one] of this.ones) one.resolve(undefined);
      this.ones.clear();
      return;
    }
    for (const [seq, one] of this.ones) {
      if (this.stuckTasks.has(one.inc)) {
        this.ones.delete(seq);
        one.resolve(undefined);
      } else this.post({ t: 'one', seq, inc: one.inc, ...one.how });
    }
    for (const [seq, c] of this.cycles) {
      const incs = c.tasks.filter((t, i) => c.results[i] === undefined && !this.stuckTasks.has(t.incarnation)).map((t) => t.incarnation);
      this.post({ t: 'cycle', seq, incs, deadlineEpochMs: Date.now() + (c.deadline - performance.now()) });
    }
    this.arm();
  }

  /** A new reader for every task (their files opened again within what the stuck ones leave of the budget). */
  private replace(): void {
    let held = 0;
    for (const a of this.abandoned) held += a.kept.open;
    this.current = this.spawn(Math.max(0, this.o.keepLimit - held));
    for (const t of this.tasks.values())
      this.post({ t: 'add', inc: t.incarnation, cgroup: t.cgroup, ...(t.state.cpuSplit ? { split: t.state.cpuSplit } : {}) });
  }
}
