import type { Meter } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import type { CapturedFiles } from '../cgroup/captured.ts';
import type { DeviceNames } from '../cgroup/devices.ts';
import type { CgroupMounts } from '../cgroup/mounts.ts';
import { FileBudget, hostFileBudget, onCgroupFs, processFileBudget } from '../cgroup/kept-files.ts';
import { hostNetns } from '../cgroup/netns.ts';
import { InlineReader, type TaskReader } from '../cgroup/task-reader.ts';
import { ThreadReader } from '../cgroup/thread-reader.ts';
import { resolveCgroup } from '../cgroup/resolve.ts';
import { metricGroups } from '../cgroup/metric-groups.ts';
import { DEFAULT_GROUPS, type MetricGroup, type TaskCgroup } from '../cgroup/types.ts';
import { ConfigError, ForeignReceiptError, TaskNotFoundError } from '../errors.ts';
import { durationOption } from '../integer-setting.ts';
import { type AddTaskOptions, checkAddOptions } from './add-options.ts';
import { catalogFor, type MetricDefinition } from './catalog.ts';
import { resolveMounts } from './engine-mounts.ts';
import { ErrorCounts } from './error-counts.ts';
import type { QueueConsumer } from './final-queue.ts';
import { FinalReadings, type StopResult } from './final-readings.ts';
import { observeInstruments, type ObserveHandle } from './observe.ts';
import { CgroupMetricProducer, type ProducerOptions } from './producer.ts';
import { SharedCycle } from './shared-cycle.ts';
import { SlicedDrain } from './sliced-drain.ts';
import type { DeliveryReceipt, LiveReading, SelfSnapshot, Snapshot } from './snapshot.ts';
import type { ConsumerOptions, SnapshotConsumer, SnapshotSource } from './snapshot-source.ts';
import { TaskRegistry } from './task-registry.ts';
import { Task, type TaskAnnotation } from './task.ts';
import { VanishedCgroupPolicy, type OnGone } from './vanished-policy.ts';
import { YoungSampler } from './young-sampler.ts';

export type { StopResult } from './final-readings.ts';
export type { AddTaskOptions } from './add-options.ts';

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
  onGone?: OnGone;
  /** Names block devices in disk points (default: the host's /sys/dev/block; tests and `root` trees pass their own). */
  deviceNames?: DeviceNames;
  /**
   * Tasks added with `firstReading` are read again every `youngIntervalMs` for their first
   * `youngTaskMs`, so that a final read that loses the race with the runtime's rmdir still
   * sends a near-final reading. Default 2,000 ms; 0 turns it off (the first reading stays).
   */
  youngTaskMs?: number;
  /** Interval of the young-task reads. Default 250 ms. */
  youngIntervalMs?: number;
  /** Most young tasks read per interval (the budget: the least recently read go first). Default 100. */
  youngMaxPerTick?: number;
  /**
   * The most cgroup files this engine keeps open between reads (see kept-files.ts); tasks beyond
   * it read by open/read/close. Default: on real cgroup file systems, the process's budget shared
   * by its engines, RLIMIT_NOFILE less a quarter (at least 256 left for sockets and watches);
   * none on a copied tree. 0 keeps none.
   */
  maxOpenFiles?: number;
  /**
   * Read on a thread of its own (see thread-reader.ts): a read the kernel blocks (a hung FUSE
   * or NFS `root`, a stalled kernfs read) then never holds the event loop, and a collection
   * returns by its deadline. Default false: reads run on the caller's thread, in slices. Block
   * device names are the host's (`deviceNames` is not used).
   */
  readThread?: boolean;
  /** readThread: a read that has not returned after this long is stuck (its task skipped until it does). Default a quarter of collectTimeoutMs, at most 1,000 ms. */
  stuckReadMs?: number;
}

/**
 * One added task, for the caller that learns its names later (discovery asking the runtime):
 * annotate() reaches this incarnation whether it is still live or stopped with its final
 * reading on its way, and never a later incarnation of the same id.
 */
export interface TaskHandle {
  readonly id: string;
  readonly namespace: string;
  /** Attributes (they replace the previous annotation's; add()'s and container.id/namespace stay) and the start time. */
  annotate(update: TaskAnnotation): void;
}

interface StopRequest {
  task: Task;
  resolve: (r: StopResult) => void;
  /** Skip the read: the cgroup is known to be gone (or replaced). */
  gone: boolean;
  /** Its files as read at `populated 0` by the events thread: the final reading is made of them. */
  captured: CapturedFiles | undefined;
}

function isTaskCgroup(c: AddTaskOptions['cgroup']): c is TaskCgroup {
  return typeof c === 'object' && 'version' in c;
}

/**
 * The engine: tasks keyed by (namespace, id), their cgroup readings at every collection, and
 * each stopped task's last reading delivered to every consumer exactly once before its series
 * disappear. It wires the parts, each in a module of its own: the registry (TaskRegistry), the
 * read shared by overlapping collections (SharedCycle), the vanished-cgroup policy
 * (VanishedCgroupPolicy), the final reads in slices (SlicedDrain), the first and young-task
 * readings (YoungSampler) and the final readings on their way (FinalReadings).
 */
export class CgroupMetrics implements SnapshotSource {
  readonly groups: ReadonlySet<MetricGroup>;
  readonly definitions: readonly MetricDefinition[];
  readonly collectTimeoutMs: number;
  readonly startTimeMs = Date.now();
  /** The cgroup mounts in use: `mounts`, else `root`'s, else the host's; read once, in the constructor. */
  readonly mounts: CgroupMounts;
  private readonly sliceMs: number;
  private readonly deviceNames: DeviceNames | undefined;
  /** Where the reads run: inline, or on a reading thread (readThread). */
  private readonly reader: TaskReader;
  private readonly registry = new TaskRegistry();
  private readonly finals: FinalReadings;
  private readonly errors = new ErrorCounts();
  private readonly metadataErrors = new ErrorCounts();
  private readonly exportFailures = new ErrorCounts();
  private readonly discoveryErrors = new ErrorCounts();
  private readonly cycle = new SharedCycle((deadline) => this.readLive(deadline));
  private readonly vanished: VanishedCgroupPolicy;
  private readonly stops: SlicedDrain<StopRequest>;
  private readonly young: YoungSampler<Task>;
  private lastCycleMs = 0;
  /** Who issued each receipt and up to where it acknowledges; weak: an unacknowledged receipt costs nothing once dropped. */
  private readonly receipts = new WeakMap<DeliveryReceipt, { cursor: QueueConsumer; seq: number }>();

  /** Throws ConfigError for bad options, NoCgroupMountError when no cgroup hierarchy is found (or `root` is unusable). */
  constructor(options: CgroupMetricsOptions = {}) {
    this.groups = new Set(metricGroups(options.groups ?? DEFAULT_GROUPS));
    this.definitions = catalogFor(this.groups);
    const max = options.maxPendingFinalReadings ?? 10_000;
    if (!Number.isInteger(max) || max < 1) throw new ConfigError(`maxPendingFinalReadings must be a positive integer, got ${max}`);
    this.finals = new FinalReadings(max);
    this.collectTimeoutMs = durationOption(options.collectTimeoutMs ?? 5_000, 'collectTimeoutMs');
    this.sliceMs = options.sliceMs ?? 5;
    this.deviceNames = options.deviceNames;
    this.stops = new SlicedDrain(this.sliceMs, (req) => void this.finalRead(req.task, req.gone, req.captured).then(req.resolve));
    this.vanished = new VanishedCgroupPolicy(options.onGone ?? 'report', {
      countError: (type) => this.errors.add(type),
      stop: (task) => {
        if (!this.registry.endTask(task, 'stopped')) return;
        this.reader.end(task);
        this.finals.queueLastKnown(task);
      },
    });
    this.mounts = resolveMounts(options);
    const maxOpen = options.maxOpenFiles;
    if (maxOpen !== undefined && (!Number.isInteger(maxOpen) || maxOpen < 0))
      throw new ConfigError(`maxOpenFiles must be a non-negative integer, got ${maxOpen}`);
    // Default: the process's shared budget, on real cgroup file systems only (see onCgroupFs).
    const real = onCgroupFs(this.mounts);
    const keep = maxOpen === undefined ? (real ? processFileBudget() : undefined) : maxOpen > 0 ? new FileBudget(maxOpen) : undefined;
    // A copied tree's cgroup.procs name no processes of its own: network only on the real thing.
    const netns = real ? hostNetns() : undefined;
    this.reader = options.readThread
      ? new ThreadReader({
          groups: this.groups,
          sliceMs: this.sliceMs,
          keepLimit: maxOpen ?? (real ? hostFileBudget() : 0),
          network: real,
          stuckMs:
            options.stuckReadMs !== undefined ? durationOption(options.stuckReadMs, 'stuckReadMs') : Math.min(1_000, Math.max(50, this.collectTimeoutMs / 4)),
        })
      : new InlineReader({ groups: this.groups, sliceMs: this.sliceMs, deviceNames: this.deviceNames, keep, netns });
    const maxPerTick = options.youngMaxPerTick ?? 100;
    if (!Number.isInteger(maxPerTick) || maxPerTick < 1) throw new ConfigError(`youngMaxPerTick must be a positive integer, got ${maxPerTick}`);
    this.young = new YoungSampler<Task>({
      windowMs: durationOption(options.youngTaskMs ?? 2_000, 'youngTaskMs', 0),
      intervalMs: durationOption(options.youngIntervalMs ?? 250, 'youngIntervalMs'),
      maxPerTick,
      sliceMs: this.sliceMs,
      read: (task) => this.youngRead(task),
      alive: (task) => task.lifecycle === 'live',
    });
  }

  /**
   * Reading threads stuck in the kernel (readThread), not yet back. A process that exits with
   * one cannot wait for it: Node.js joins every thread at exit.
   */
  get stuckReaders(): number {
    return this.reader.stuck;
  }

  /** Ends the reading thread (readThread); an inline engine has nothing to close. */
  close(): Promise<void> {
    return this.reader.close();
  }

  /** Young-task reads done since start (the first readings at add() not included): tests and benches. */
  get youngReads(): number {
    return this.young.reads;
  }

  /** Tasks registered now. */
  get size(): number {
    return this.registry.size;
  }

  has(id: string, namespace = 'default'): boolean {
    return this.registry.has(namespace, id);
  }

  /** Registers a task. Throws ConfigError, AlreadyCollectedError, CgroupNotFoundError or PathOutsideMountError. */
  add(options: AddTaskOptions): TaskHandle {
    const { id, namespace, startTimeMs } = checkAddOptions(options);
    const task = this.registry.add(namespace, id, () => {
      // A TaskCgroup from the caller is copied: the engine's is never written to, nor read again, by anyone else.
      const cgroup = isTaskCgroup(options.cgroup) ? { ...options.cgroup } : resolveCgroup(this.mounts, options.cgroup);
      return new Task(id, namespace, cgroup, startTimeMs, options.attributes);
    });
    this.reader.add(task);
    if (options.firstReading === true) this.young.add(task, true);
    return { id, namespace, annotate: (update) => task.annotate(update) };
  }

  /**
   * Counts a failed metadata lookup (a runtime's API that is missing, refuses, hangs or answers
   * nonsense) in `cgroup_metrics.metadata.errors`, by source and error type.
   */
  countMetadataError(source: string, type: string): void {
    this.metadataErrors.add(`${source}\u0000${type}`);
  }

  /**
   * Counts failed exports of one exporter (a collector down, answering 500, timing out) in
   * `cgroup_metrics.export.failures`. `n = 0` makes the exporter's series exist at 0.
   */
  countExportFailure(exporter: string, n = 1): void {
    this.exportFailures.add(exporter, n);
  }

  /**
   * Counts a failure of discovery's own (a watch that could not be set: EMFILE, ENFILE,
   * ENOSPC) in `cgroup_metrics.discovery.errors`, by error type.
   */
  countDiscoveryError(type: string): void {
    this.discoveryErrors.add(type);
  }

  /**
   * v1 and hybrid hosts: gives a registered v1 task the directories of its cgroup made after
   * add() (another hierarchy's, or the cgroup2 twin), read from the next collection on. `later`
   * is the cgroup resolved again; only what the task lacks is taken. Discovery calls it; the
   * engine's copy of a task's cgroup changes only through this. False when the task is not
   * registered, is a v2 cgroup, or nothing was missing.
   */
  attachDirs(id: string, namespace: string, later: TaskCgroup): boolean {
    const task = this.registry.get(namespace, id);
    if (!task?.attachDirs(later)) return false;
    this.reader.attach(task);
    return true;
  }

  /**
   * Takes the task's final reading and queues it for every consumer's next collection.
   * Resolves once the reading is queued. The task leaves the registry at once, so the same
   * id can be added again straight away. Rejects with TaskNotFoundError for an unknown task.
   * `{ gone: true }`: the caller knows the cgroup is gone, or its path now holds another
   * cgroup (removed and made again): nothing is read, the last reading taken (young or
   * periodic, see StopResult.lastKnown) is queued. `{ captured }`: the task's files as read
   * the moment it ended (Discovery's events thread, see recordFiles): the final reading is made
   * of them, even when the cgroup is gone by now.
   */
  stop(id: string, namespace = 'default', options: { gone?: boolean; captured?: CapturedFiles } = {}): Promise<StopResult> {
    const task = this.registry.end(namespace, id, 'stopped');
    if (!task) return Promise.reject(new TaskNotFoundError(namespace, id));
    return new Promise((resolve) => this.stops.push({ task, resolve, gone: options.gone === true && !options.captured, captured: options.captured }));
  }

  /**
   * The cgroup files of a registered task's reading: the list Discovery gives its events thread
   * to read at `populated 0`. A first reading is queued (read in slices with the other first
   * readings; kept as the task's fallback final reading), and it or the task's next young
   * reading, whichever comes first, notes its files: add the task without `firstReading` and
   * this is its first reading. Undefined for an unknown task, a reading that failed, or a task
   * that ended first.
   */
  recordFiles(id: string, namespace = 'default'): Promise<readonly string[] | undefined> {
    const task = this.registry.get(namespace, id);
    if (!task) return Promise.resolve(undefined);
    const files = task.awaitFiles();
    this.young.first(task);
    return files;
  }

  /** The registered tasks' ids. */
  tasks(): Array<{ id: string; namespace: string }> {
    return this.registry.list().map((t) => ({ id: t.id, namespace: t.namespace }));
  }

  /** Stops every registered task (shutdown): each gets its final reading. */
  stopAll(): Promise<StopResult[]> {
    return Promise.all(this.tasks().map((t) => this.stop(t.id, t.namespace)));
  }

  /** Forgets a task without a final reading. Unknown tasks are ignored; returns whether one was removed. */
  remove(id: string, namespace = 'default'): boolean {
    const task = this.registry.end(namespace, id, 'removed');
    if (task) this.reader.end(task);
    return task !== undefined;
  }

  /** A MetricProducer for one reader (`metricProducers: [cgroups.producer()]`). */
  producer(options: ProducerOptions = {}): CgroupMetricProducer {
    return new CgroupMetricProducer(this, { sliceMs: this.sliceMs, ...options });
  }

  /** The catalog's observable instruments on `meter`, fed by one batch callback. */
  observe(meter: Meter): ObserveHandle {
    return observeInstruments(this, meter);
  }

  /**
   * A consumer of collections with its own cursor into the final-readings queue: each final
   * reading reaches each consumer once (`acknowledge: 'auto'`, the default: a collection counts
   * as delivered), or until the consumer acknowledges a collection that carried it
   * (`acknowledge: 'manual'`). Close it when done, or the queue keeps every final reading for it (up to
   * maxPendingFinalReadings).
   */
  openConsumer(options: ConsumerOptions = {}): SnapshotConsumer {
    const ack = options.acknowledge ?? 'auto';
    if (ack !== 'auto' && ack !== 'manual') throw new ConfigError(`consumer option acknowledge must be 'auto' or 'manual', got ${JSON.stringify(ack)}`);
    const cursor = this.finals.open();
    const finals = this.finals;
    const receipts = this.receipts;
    let open = true;
    return {
      snapshot: (timeoutMs) => this.collect(cursor, timeoutMs, ack === 'auto'),
      acknowledge(receipt: DeliveryReceipt): void {
        const r = receipts.get(receipt);
        if (r?.cursor !== cursor) throw new ForeignReceiptError();
        if (open) finals.acknowledge(cursor, r.seq);
      },
      get pending(): number {
        return open ? finals.pendingFor(cursor) : 0;
      },
      close: () => {
        if (open) this.finals.close(cursor);
        open = false;
      },
    };
  }

  /** One collection for one consumer. Never rejects; resolves by the deadline with what was read by then. */
  private async collect(cursor: QueueConsumer, timeoutMs: number | undefined, autoAcknowledge: boolean): Promise<Snapshot> {
    const live = await this.cycle.read(performance.now() + (timeoutMs ?? this.collectTimeoutMs));
    // Finals after the read, so that a task stopped during the read is delivered now.
    const { finals, seq } = this.finals.peek(cursor);
    const delivery: DeliveryReceipt = Object.freeze({ finals: finals.length });
    this.receipts.set(delivery, { cursor, seq });
    if (autoAcknowledge) this.finals.acknowledge(cursor, seq);
    const withFinal = finals.length > 0 ? new Set(finals.map((f) => f.task.key)) : undefined;
    return {
      finals,
      live: live ? live.filter((r) => r.task.lifecycle === 'live' && !withFinal?.has(r.task.key)) : [],
      self: this.selfSnapshot(cursor),
      delivery,
    };
  }

  /** The engine's figures as one reader sees them: the pending and dropped final readings are its own. */
  private selfSnapshot(cursor: QueueConsumer): SelfSnapshot {
    return {
      startTimeMs: this.startTimeMs,
      timeMs: Date.now(),
      tasks: this.registry.size,
      collectionDurationS: this.lastCycleMs / 1000,
      errors: this.errors.snapshot(),
      metadataErrors: this.metadataErrors.snapshot(),
      exportFailures: this.exportFailures.snapshot(),
      discoveryErrors: this.discoveryErrors.snapshot(),
      pending: this.finals.pendingFor(cursor),
      dropped: cursor.dropped,
      missed: this.finals.missed,
      finalSources: this.finals.sourceCounts,
      keptFiles: this.reader.kept(),
    };
  }

  /** One read of every registered task, by `deadline`; the run behind SharedCycle. */
  private async readLive(deadline: number): Promise<LiveReading[]> {
    const tasks = this.registry.list();
    const cycle = await this.reader.cycle(tasks, deadline);
    this.lastCycleMs = cycle.durationMs;
    if (cycle.timedOut > 0) this.errors.add('timeout', cycle.timedOut);
    const live: LiveReading[] = [];
    for (let i = 0; i < tasks.length; i++) {
      const result = cycle.results[i];
      const task = tasks[i] as Task;
      if (!result) continue;
      if (result.gone) this.reader.release(task); // a removed cgroup's open files would keep it in kernel memory
      this.vanished.observe(task, result.gone);
      if (result.gone) continue;
      for (const e of result.errors) this.errors.add(e.type);
      task.remember(result.stats, result.timeMs, 'periodic');
      live.push({ task, result });
    }
    return live;
  }

  /**
   * A first or young-task reading: kept as the task's fallback final reading. Errors and a
   * vanished cgroup are left to the collections (counted once there, not at every young read).
   */
  private youngRead(task: Task): void {
    const record = task.wantsFiles;
    void this.reader.one(task, record ? { record } : undefined).then((r) => {
      if (r?.gone) this.reader.release(task);
      else if (r) task.remember(r.stats, r.timeMs, 'young');
      if (record) task.filesRead(r && !r.gone && task.lifecycle === 'live' ? r.files : undefined);
    });
  }

  /** The final read of a stopped task: its cgroup now, else its last reading (young or periodic). */
  private async finalRead(task: Task, gone: boolean, captured: CapturedFiles | undefined): Promise<StopResult> {
    const read = gone ? undefined : this.reader.one(task, captured ? { captured } : undefined);
    // The task has ended: its files close at once, after that read (a removed cgroup's would keep it in kernel memory).
    this.reader.end(task);
    const r = await read;
    if (!r || r.gone) return this.finals.queueLastKnown(task);
    for (const e of r.errors) this.errors.add(e.type);
    return this.finals.queueRead(task, r.stats, r.timeMs);
  }
}
