import type { Attributes, Meter } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { cgroupMountsFromDirectory, hostCgroupMounts, type CgroupMounts } from '../cgroup/mounts.ts';
import { readCycle } from '../cgroup/read-cycle.ts';
import { readStats } from '../cgroup/read.ts';
import { resolveCgroup, type CgroupSpec } from '../cgroup/resolve.ts';
import { ALL_GROUPS, DEFAULT_GROUPS, type CgroupStats, type MetricGroup, type ReadResult, type TaskCgroup } from '../cgroup/types.ts';
import { AlreadyCollectedError, ConfigError, TaskNotFoundError } from '../errors.ts';
import { catalogFor, type MetricDefinition } from './catalog.ts';
import { FinalQueue, type QueueConsumer } from './final-queue.ts';
import { observeInstruments, type ObserveHandle } from './observe.ts';
import { CgroupMetricProducer, type ProducerOptions } from './producer.ts';
import { Task, taskKey, type FinalReading, type FinalSource } from './task.ts';

export interface CgroupMetricsOptions {
  /** Metric groups to read and export (default: all but cpu.percpu and hugetlb). */
  groups?: readonly MetricGroup[];
  /** Bound of the pending-final-readings queue; the oldest are dropped (and counted) beyond it. Default 10,000. */
  maxPendingFinalReadings?: number;
  /** Deadline of one collection when the reader gives none (the Prometheus exporter gives none). Default 5,000 ms. */
  collectTimeoutMs?: number;
  /** A directory to use instead of the host's cgroup mounts: a cgroup2 directory or a v1 tree. */
  root?: string;
  /** Explicit mounts (tests, embedding); wins over `root`. */
  mounts?: CgroupMounts;
  /** Longest run of synchronous cgroupfs reads before yielding to the event loop. Default 5 ms. */
  sliceMs?: number;
  /**
   * When a registered task's cgroup disappears: `report` (default) counts it once and keeps
   * the task registered; `stop` also stops it, queueing its last periodic reading as the
   * final one (the agent's choice: nobody else will call stop()).
   */
  onGone?: 'report' | 'stop';
}

export interface AddTaskOptions {
  id: string;
  /** containerd's notion: `default`, `k8s.io`, `moby`, a job runner's tenant. Default `default`. */
  namespace?: string;
  /** A cgroup path relative to each hierarchy's root, `{ pid }`, or an already resolved TaskCgroup. */
  cgroup: CgroupSpec | TaskCgroup;
  /** Extra point attributes (`container.name`, `k8s.pod.name`); they never override container.id/namespace. */
  attributes?: Attributes;
  /** When the task started (default: now): the start time of its cumulative series and of uptime. */
  startTime?: Date | number;
}

export interface StopResult {
  /** `read`: read at stop; `last-known`: the cgroup was gone, the last periodic reading was queued; `none`: nothing to queue. */
  source: FinalSource;
  /** When the queued reading was taken (ms since the epoch); absent for `none`. */
  timeMs?: number;
  stats?: CgroupStats;
}

/** What one consumer gets from one collection. */
export interface Snapshot {
  /** Final readings for this consumer, oldest first, at most one per (namespace, id). */
  finals: FinalReading[];
  /** Live readings of registered tasks (none for tasks whose final reading is in `finals`). */
  live: Array<{ task: Task; result: ReadResult }>;
  self: SelfSnapshot;
}

export interface SelfSnapshot {
  startTimeMs: number;
  timeMs: number;
  tasks: number;
  collectionDurationS: number;
  errors: ReadonlyMap<string, number>;
  pending: number;
  dropped: number;
  missed: number;
}

interface CycleOutcome {
  live: Array<{ task: Task; result: ReadResult }>;
}

interface StopRequest {
  task: Task;
  resolve: (r: StopResult) => void;
  /** Skip the read: the cgroup is known to be gone (or replaced). */
  gone: boolean;
}

function isTaskCgroup(c: AddTaskOptions['cgroup']): c is TaskCgroup {
  return typeof c === 'object' && 'version' in c;
}

/**
 * The engine: a registry of tasks keyed by (namespace, id), their cgroup readings at every
 * collection, and the pending-final-readings queue that delivers each stopped task's last
 * reading to every consumer exactly once before its series disappear.
 */
export class CgroupMetrics {
  readonly groups: ReadonlySet<MetricGroup>;
  readonly definitions: readonly MetricDefinition[];
  readonly collectTimeoutMs: number;
  readonly startTimeMs = Date.now();
  private readonly sliceMs: number;
  private readonly stopWhenGone: boolean;
  private mountsValue: CgroupMounts | undefined;
  private readonly root: string | undefined;
  private readonly registry = new Map<string, Task>();
  private readonly queue: FinalQueue<FinalReading>;
  private readonly errorCounts = new Map<string, number>();
  private missedFinals = 0;
  private lastCycleMs = 0;
  private inflight: Promise<CycleOutcome> | undefined;
  /** The deadline the cycle in flight was started with: it stops reading by then by itself. */
  private inflightDeadline = 0;
  private stopRequests: StopRequest[] = [];
  private stopHead = 0;
  private draining = false;

  constructor(options: CgroupMetricsOptions = {}) {
    const groups = options.groups ?? DEFAULT_GROUPS;
    for (const g of groups) if (!ALL_GROUPS.includes(g)) throw new ConfigError(`unknown metric group ${JSON.stringify(g)}; known: ${ALL_GROUPS.join(', ')}`);
    this.groups = new Set(groups);
    this.definitions = catalogFor(this.groups);
    const max = options.maxPendingFinalReadings ?? 10_000;
    if (!Number.isInteger(max) || max < 1) throw new ConfigError(`maxPendingFinalReadings must be a positive integer, got ${max}`);
    this.queue = new FinalQueue(max);
    this.collectTimeoutMs = options.collectTimeoutMs ?? 5_000;
    this.sliceMs = options.sliceMs ?? 5;
    this.stopWhenGone = options.onGone === 'stop';
    this.mountsValue = options.mounts;
    this.root = options.root;
  }

  /** The cgroup mounts in use (found on first use: the host's, or `root`'s). */
  get mounts(): CgroupMounts {
    this.mountsValue ??= this.root !== undefined ? cgroupMountsFromDirectory(this.root) : hostCgroupMounts();
    return this.mountsValue;
  }

  /** Tasks registered now. */
  get size(): number {
    return this.registry.size;
  }

  has(id: string, namespace = 'default'): boolean {
    return this.registry.has(taskKey(namespace, id));
  }

  /** Registers a task. Throws AlreadyCollectedError, CgroupNotFoundError or PathOutsideMountError. */
  add(options: AddTaskOptions): void {
    const namespace = options.namespace ?? 'default';
    const { id } = options;
    if (typeof id !== 'string' || id === '') throw new ConfigError('task id must be a non-empty string');
    const key = taskKey(namespace, id);
    if (this.registry.has(key)) throw new AlreadyCollectedError(namespace, id);
    const cgroup = isTaskCgroup(options.cgroup) ? options.cgroup : resolveCgroup(this.mounts, options.cgroup);
    const start = options.startTime === undefined ? Date.now() : +options.startTime;
    this.registry.set(key, new Task(id, namespace, cgroup, start, options.attributes));
  }

  /**
   * Takes the task's final reading and queues it for every consumer's next collection.
   * Resolves once the reading is queued. The task leaves the registry at once, so the same
   * id can be added again straight away. Rejects with TaskNotFoundError for an unknown task.
   * `{ gone: true }`: the caller knows the cgroup is gone, or its path now holds another
   * cgroup (removed and made again): nothing is read, the last periodic reading is queued.
   */
  stop(id: string, namespace = 'default', options: { gone?: boolean } = {}): Promise<StopResult> {
    const key = taskKey(namespace, id);
    const task = this.registry.get(key);
    if (!task) return Promise.reject(new TaskNotFoundError(namespace, id));
    this.registry.delete(key);
    task.ended = true;
    task.stopping = true;
    return new Promise((resolve) => {
      this.stopRequests.push({ task, resolve, gone: options.gone === true });
      if (!this.draining) void this.drainStops();
    });
  }

  /** The registered tasks' ids. */
  tasks(): Array<{ id: string; namespace: string }> {
    return [...this.registry.values()].map((t) => ({ id: t.id, namespace: t.namespace }));
  }

  /** Stops every registered task (shutdown): each gets its final reading. */
  stopAll(): Promise<StopResult[]> {
    return Promise.all(this.tasks().map((t) => this.stop(t.id, t.namespace)));
  }

  /** Forgets a task without a final reading. Unknown tasks are ignored; returns whether one was removed. */
  remove(id: string, namespace = 'default'): boolean {
    const key = taskKey(namespace, id);
    const task = this.registry.get(key);
    if (!task) return false;
    this.registry.delete(key);
    task.ended = true;
    return true;
  }

  /** A MetricProducer for one reader (`metricProducers: [cgroups.producer()]`). */
  producer(options: ProducerOptions = {}): CgroupMetricProducer {
    return new CgroupMetricProducer(this, options);
  }

  /** The catalog's observable instruments on `meter`, fed by one batch callback. */
  observe(meter: Meter): ObserveHandle {
    return observeInstruments(this, meter);
  }

  /** @internal A consumer of the final-readings queue (one per producer or observe()). */
  registerConsumer(): QueueConsumer {
    return this.queue.register();
  }

  /** @internal */
  unregisterConsumer(c: QueueConsumer): void {
    this.queue.unregister(c);
  }

  /**
   * One collection for one consumer: a read of every live task (shared with any collection
   * already in flight) and the consumer's pending final readings. Never throws; returns by
   * the deadline with what was read by then.
   */
  async snapshot(consumer: QueueConsumer, timeoutMs?: number): Promise<Snapshot> {
    const deadline = performance.now() + (timeoutMs ?? this.collectTimeoutMs);
    const read = this.readLive(deadline);
    // The cycle stops at its own deadline and returns what it read by then. A timer racing it
    // fires between slices, at times before the deadline (ms rounding), and threw away every
    // live reading of ~1 collection in 5 that hit its deadline: race only a cycle that was
    // started (by another collection) with a later deadline.
    const cycle = this.inflightDeadline <= deadline ? await read : await this.withDeadline(read, deadline);
    // Finals after the read, so that a task stopped during the read is delivered now.
    const finals: FinalReading[] = [];
    const keys = new Set<string>();
    const seq = this.queue.peek(consumer, (f) => {
      // Two incarnations of one id in one collection would be duplicate series: the later waits.
      if (keys.has(f.task.key)) return false;
      keys.add(f.task.key);
      finals.push(f);
      return true;
    });
    this.queue.advance(consumer, seq);
    const live = cycle ? cycle.live.filter((r) => !r.task.ended && !keys.has(r.task.key)) : [];
    return { finals, live, self: this.selfSnapshot() };
  }

  private selfSnapshot(): SelfSnapshot {
    return {
      startTimeMs: this.startTimeMs,
      timeMs: Date.now(),
      tasks: this.registry.size,
      collectionDurationS: this.lastCycleMs / 1000,
      errors: new Map(this.errorCounts),
      pending: this.queue.size,
      dropped: this.queue.dropped,
      missed: this.missedFinals,
    };
  }

  private countError(type: string, n = 1): void {
    this.errorCounts.set(type, (this.errorCounts.get(type) ?? 0) + n);
  }

  private async withDeadline<T>(p: Promise<T>, deadline: number): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - performance.now()));
      timer.unref();
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Overlapping collections (two readers, a scrape during a push) share one read of cgroupfs. */
  private readLive(deadline: number): Promise<CycleOutcome> {
    if (!this.inflight) {
      this.inflightDeadline = deadline;
      this.inflight = this.runCycle(deadline).finally(() => {
        this.inflight = undefined;
      });
    }
    return this.inflight;
  }

  private async runCycle(deadline: number): Promise<CycleOutcome> {
    const tasks = [...this.registry.values()];
    const cycle = await readCycle(tasks, this.groups, { deadline, sliceMs: this.sliceMs });
    this.lastCycleMs = cycle.durationMs;
    if (cycle.timedOut > 0) this.countError('timeout', cycle.timedOut);
    const live: CycleOutcome['live'] = [];
    for (let i = 0; i < tasks.length; i++) {
      const result = cycle.results[i];
      const task = tasks[i] as Task;
      if (!result) continue;
      if (result.gone) {
        // Reported once, not at every cycle for as long as the task stays registered.
        if (!task.goneReported) {
          task.goneReported = true;
          this.countError('ENOENT');
        }
        if (this.stopWhenGone && !task.ended && this.registry.get(task.key) === task) {
          this.registry.delete(task.key);
          task.ended = true;
          this.missedFinals++;
          if (task.lastStats) this.queue.push({ task, stats: task.lastStats, timeMs: task.lastTimeMs, source: 'last-known' });
        }
        continue;
      }
      task.goneReported = false;
      for (const e of result.errors) this.countError(e.type);
      task.lastStats = result.stats;
      task.lastTimeMs = result.timeMs;
      live.push({ task, result });
    }
    return { live };
  }

  /** Final reads, in stop order, in slices so that a storm of stops never stalls the event loop. */
  private async drainStops(): Promise<void> {
    this.draining = true;
    try {
      do {
        while (this.stopHead < this.stopRequests.length) {
          const sliceStart = performance.now();
          while (this.stopHead < this.stopRequests.length && performance.now() - sliceStart < this.sliceMs) {
            const req = this.stopRequests[this.stopHead] as StopRequest;
            (this.stopRequests as Array<StopRequest | undefined>)[this.stopHead] = undefined;
            this.stopHead++;
            req.resolve(this.finalRead(req.task, req.gone));
          }
          if (this.stopHead > 1024 && this.stopHead * 2 > this.stopRequests.length) {
            this.stopRequests = this.stopRequests.slice(this.stopHead);
            this.stopHead = 0;
          }
          if (this.stopHead < this.stopRequests.length) await yieldToLoop();
        }
        this.stopRequests = [];
        this.stopHead = 0;
        // Stay the drainer until the event loop turns: stop() calls made in the same synchronous
        // burst (50,000 in a loop) queue up and are read in slices. Without this each of them
        // found the queue drained and read its cgroup in the caller's stack: a 1.2 s stall.
        await yieldToLoop();
      } while (this.stopRequests.length > 0);
    } finally {
      this.draining = false;
    }
  }

  private finalRead(task: Task, gone: boolean): StopResult {
    const r = gone ? undefined : readStats(task.cgroup, this.groups, task.state);
    if (r && !r.gone) {
      for (const e of r.errors) this.countError(e.type);
      this.queue.push({ task, stats: r.stats, timeMs: r.timeMs, source: 'read' });
      return { source: 'read', timeMs: r.timeMs, stats: r.stats };
    }
    this.missedFinals++;
    if (task.lastStats) {
      this.queue.push({ task, stats: task.lastStats, timeMs: task.lastTimeMs, source: 'last-known' });
      return { source: 'last-known', timeMs: task.lastTimeMs, stats: task.lastStats };
    }
    return { source: 'none' };
  }
}
