import type { Attributes } from '@opentelemetry/api';
import type { TaskHandle } from '../../metrics/cgroup-metrics.ts';
import { RateLimitedLog } from '../../rate-limited-log.ts';
import { oldestProcessStartMs } from '../start-time.ts';
import type { LabelAllowList } from './labels.ts';
import { type ContainerMetadata, type LookupTask, MetadataLookupError, type MetadataSource } from './source.ts';

export interface MetadataLookupsOptions {
  /** The source that names each layout's tasks; layouts without one get the process start time alone. */
  sources: ReadonlyMap<string, MetadataSource>;
  labels: LabelAllowList;
  /** Export pod sandboxes (pause and infra containers) like other containers. Default false. */
  keepSandboxes?: boolean;
  /** Deadline of one lookup. Default 2,000 ms. */
  timeoutMs?: number;
  /** Longest wait between two tries of a failing lookup. Default 60,000 ms. */
  maxBackoffMs?: number;
  /** Lookups in flight at once, across sources: a rescan of 1000 containers does not flood a runtime. Default 8. */
  concurrency?: number;
  /** Every failed lookup (the engine counts them). */
  onError(source: string, error: MetadataLookupError): void;
  /** A sandbox the runtime named: the caller drops the task. */
  onSandbox(task: LookupTask): void;
  /** Names applied to a task (logs, tests, latency); `ms` since track(). */
  onNamed?(task: LookupTask, metadata: ContainerMetadata, ms: number): void;
  /** Where rate-limited error lines go (at most one a minute per source, with a count). */
  log?(line: string): void;
}

/** A not-found answer is retried this many times (a container record can trail its cgroup), then taken as final. */
const NOT_FOUND_TRIES = 3;
/** A container the runtime has not started yet is looked up again this many times for its start time. */
const START_PENDING_TRIES = 4;
const FIRST_BACKOFF_MS = 250;
/** When the process start time is looked for again while the cgroup has no process yet. */
const PROCESS_START_RETRIES_MS = [20, 100, 500, 2_000, 10_000];

interface Entry {
  readonly task: LookupTask;
  readonly handle: TaskHandle;
  readonly procsFile: string | undefined;
  readonly trackedAt: number;
  source: MetadataSource | undefined;
  tries: number;
  notFound: number;
  /** Answers without the start time the runtime will have (ContainerMetadata.startPending). */
  startPending: number;
  /** The runtime gave the start time: the process start time no longer applies. */
  runtimeStart: boolean;
  processStartMs: number | undefined;
  processTries: number;
  timer: NodeJS.Timeout | undefined;
  processTimer: NodeJS.Timeout | undefined;
  inFlight: AbortController | undefined;
  /** The lookup is over (answered, or given up on): no more tries. */
  done: boolean;
  /** Untracked: nothing more is applied but a lookup already in flight. */
  ended: boolean;
}

/**
 * Names tasks from their runtimes' APIs, away from the collection path: a lookup starts when a
 * task is tracked (at discovery), its answer annotates the task (a pending final reading
 * included), and a failure is counted and tried again with exponential backoff while the task
 * lives. Until an answer comes, the task's series carry its ids alone; no collection waits.
 * A task's start time is the runtime's, else its cgroup's oldest process's: the same after an
 * agent restart, so cumulative series do not look reset.
 */
export class MetadataLookups {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private inFlight = 0;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly concurrency: number;
  /** At most one line a minute per source: the first failure at once, the rest counted. */
  private readonly logLimited: RateLimitedLog | undefined;

  constructor(private readonly options: MetadataLookupsOptions) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.maxBackoffMs = options.maxBackoffMs ?? 60_000;
    this.concurrency = options.concurrency ?? 8;
    this.logLimited = options.log ? new RateLimitedLog(options.log) : undefined;
  }

  /** Tasks tracked and not yet named (or given up on). */
  get pending(): number {
    let n = 0;
    for (const e of this.entries.values()) if (!e.done) n++;
    return n;
  }

  /** Starts naming a task just added; `procsFile` is its cgroup.procs, for the process start time. */
  track(task: LookupTask, handle: TaskHandle, procsFile?: string): void {
    if (this.closed) return;
    const key = keyOf(task);
    this.untrack(task);
    const source = this.options.sources.get(task.layout);
    const e: Entry = {
      task,
      handle,
      procsFile,
      trackedAt: performance.now(),
      source,
      tries: 0,
      notFound: 0,
      startPending: 0,
      runtimeStart: false,
      processStartMs: undefined,
      processTries: 0,
      timer: undefined,
      processTimer: undefined,
      inFlight: undefined,
      // Without a source for its layout there is no lookup to make.
      done: source === undefined,
      ended: false,
    };
    this.entries.set(key, e);
    this.processStart(e);
    if (!e.done) this.enqueue(e);
  }

  /**
   * The task ended: no more retries. A lookup queued or in flight still runs and applies its
   * answer, so that the final reading of a short task carries its names.
   */
  untrack(task: LookupTask): void {
    const e = this.entries.get(keyOf(task));
    if (!e) return;
    e.ended = true;
    clearTimeout(e.timer);
    clearTimeout(e.processTimer);
    this.entries.delete(keyOf(task));
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) {
      this.finish(e);
      e.ended = true;
      clearTimeout(e.processTimer);
      e.inFlight?.abort();
    }
    this.entries.clear();
    this.queue.length = 0;
    for (const s of new Set(this.options.sources.values())) s.close();
    // Nothing held back stays unsaid.
    this.logLimited?.flush();
  }

  private finish(e: Entry): void {
    e.done = true;
    clearTimeout(e.timer);
  }

  private processStart(e: Entry): void {
    if (e.runtimeStart || e.ended || !e.procsFile) return;
    const ms = oldestProcessStartMs(e.procsFile);
    if (ms !== undefined) {
      e.processStartMs = ms;
      e.handle.annotate({ startTimeMs: ms });
      return;
    }
    const wait = PROCESS_START_RETRIES_MS[e.processTries++];
    if (wait === undefined) return;
    e.processTimer = setTimeout(() => this.processStart(e), wait);
    e.processTimer.unref();
  }

  private enqueue(e: Entry): void {
    this.queue.push(e);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const e = this.queue.shift() as Entry;
      if (e.done || this.closed) continue;
      void this.attempt(e);
    }
  }

  private async attempt(e: Entry): Promise<void> {
    const source = e.source as MetadataSource;
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), this.timeoutMs);
    deadline.unref();
    e.inFlight = controller;
    e.tries++;
    this.inFlight++;
    try {
      const meta = await source.lookup(e.task, controller.signal);
      if (meta) this.apply(e, meta);
      else if (++e.notFound < NOT_FOUND_TRIES && !e.done && !e.ended) this.retry(e);
      else this.finish(e);
    } catch (err) {
      const error = err instanceof MetadataLookupError ? err : new MetadataLookupError(source.name, 'protocol', (err as Error).message);
      this.options.onError(source.name, error);
      this.logError(source.name, error);
      if (!e.done && !e.ended) this.retry(e);
      else this.finish(e);
    } finally {
      clearTimeout(deadline);
      e.inFlight = undefined;
      this.inFlight--;
      this.pump();
    }
  }

  private retry(e: Entry): void {
    const base = Math.min(this.maxBackoffMs, FIRST_BACKOFF_MS * 2 ** Math.min(e.tries - 1, 20));
    // Jitter: containers discovered together do not retry together.
    const wait = base / 2 + Math.random() * (base / 2);
    e.timer = setTimeout(() => {
      e.timer = undefined;
      if (!e.done && !e.ended && !this.closed) this.enqueue(e);
    }, wait);
    e.timer.unref();
  }

  private apply(e: Entry, meta: ContainerMetadata): void {
    this.finish(e);
    if (this.closed) return;
    if (meta.sandbox && !this.options.keepSandboxes) {
      this.options.onSandbox(e.task);
      return;
    }
    const attributes: Attributes = { ...meta.attributes, ...this.options.labels.attributes(meta.labels) };
    if (meta.startTimeMs !== undefined) e.runtimeStart = true;
    const startTimeMs = meta.startTimeMs ?? e.processStartMs;
    e.handle.annotate(startTimeMs === undefined ? { attributes } : { attributes, startTimeMs });
    if (e.startPending === 0) this.options.onNamed?.(e.task, meta, performance.now() - e.trackedAt);
    if (meta.startPending && e.startPending++ < START_PENDING_TRIES && !e.ended) {
      e.done = false;
      this.retry(e);
    }
  }

  private logError(source: string, error: MetadataLookupError): void {
    this.logLimited?.say(source, `metadata: ${error.message} [${error.type}]; series carry ids until it answers`);
  }
}

function keyOf(t: LookupTask): string {
  return `${t.namespace}\u0000${t.id}`;
}
