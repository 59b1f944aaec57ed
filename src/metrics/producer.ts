import { ValueType, type Attributes } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  InstrumentType,
  type AggregationTemporalitySelector,
  type CollectionResult,
  type DataPoint,
  type MetricCollectOptions,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import { SELF_METRICS, type MetricKind, type SelfMetricDefinition } from './catalog.ts';
import type { CgroupMetrics, SelfSnapshot, Snapshot } from './cgroup-metrics.ts';
import type { QueueConsumer } from './final-queue.ts';
import { visitPoints } from './points.ts';
import { SCOPE } from './scope.ts';
import type { FinalReading, Task } from './task.ts';

export interface ProducerOptions {
  /**
   * The temporality the reader wants: a value, a selector, or the exporter/reader itself
   * (anything with selectAggregationTemporality). Default: cumulative.
   */
  temporality?: AggregationTemporality | AggregationTemporalitySelector | { selectAggregationTemporality(t: InstrumentType): AggregationTemporality };
  /**
   * Pull endpoints only: keep showing each final reading for this long after it was first
   * delivered (cumulative only; default 0 = exactly once). A Prometheus endpoint is ONE reader
   * however many servers scrape it: with an HA pair (or a curl probe) each final reading would
   * reach only the first scrape. A hold of at least one scrape interval lets every scraper see it.
   */
  finalHoldMs?: number;
}

const INSTRUMENT_TYPE: Record<MetricKind, InstrumentType> = {
  counter: InstrumentType.OBSERVABLE_COUNTER,
  updowncounter: InstrumentType.OBSERVABLE_UP_DOWN_COUNTER,
  gauge: InstrumentType.OBSERVABLE_GAUGE,
};

// Identity of interned attribute objects, for delta state keys without hashing attributes.
const attrIds = new WeakMap<object, number>();
let nextAttrId = 1;
function attrId(a: Attributes | undefined): number {
  if (!a) return 0;
  let id = attrIds.get(a);
  if (id === undefined) attrIds.set(a, (id = nextAttrId++));
  return id;
}

/** How many collections a stopped task's delta state waits for its final reading (then it is dropped: bounded memory). */
const MAX_FINAL_WAITS = 3;

interface DeltaState {
  value: number;
  timeMs: number;
}

/**
 * A MetricProducer for one reader: its own cursor into the final-readings queue, so every
 * reader gets every final reading once; series of stopped tasks vanish after delivery.
 * Cumulative sums start at the task's start time; delta sums are computed here per series.
 */
export class CgroupMetricProducer implements MetricProducer {
  private readonly consumer: QueueConsumer;
  private readonly temporality: Record<MetricKind, AggregationTemporality>;
  /** Delta state per task incarnation (0 = self metrics); forgotten once its task has ended and is not seen. */
  private deltas = new Map<number, Map<string, DeltaState>>();
  /** The task of each incarnation in `deltas`. */
  private deltaTasks = new Map<number, Task>();
  /** Collections an ended task's state has waited for its final reading. */
  private readonly finalWaits = new Map<number, number>();
  private closed = false;
  private readonly finalHoldMs: number;
  /** Final readings already delivered, shown again until their hold expires (finalHoldMs). */
  private held: Array<{ final: FinalReading; untilMs: number }> = [];

  constructor(
    private readonly engine: CgroupMetrics,
    options: ProducerOptions,
  ) {
    this.consumer = engine.registerConsumer();
    this.finalHoldMs = options.finalHoldMs ?? 0;
    const t = options.temporality;
    const select = (type: InstrumentType): AggregationTemporality =>
      t === undefined ? AggregationTemporality.CUMULATIVE : typeof t === 'function' ? t(type) : typeof t === 'object' ? t.selectAggregationTemporality(type) : t;
    this.temporality = {
      counter: select(INSTRUMENT_TYPE.counter),
      updowncounter: select(INSTRUMENT_TYPE.updowncounter),
      gauge: AggregationTemporality.CUMULATIVE,
    };
  }

  async collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    if (this.closed) return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };
    const snap = this.withHeldFinals(await this.engine.snapshot(this.consumer, options?.timeoutMillis));
    const defs = this.engine.definitions;
    const points: Array<Array<DataPoint<number>>> = defs.map(() => []);
    const seen = new Map<number, Map<string, DeltaState>>();
    const seenTasks = new Map<number, Task>();
    visitPoints(defs, snap, (i, value, attributes, task, timeMs, pointAttributes) => {
      const def = defs[i];
      if (!def) return;
      const end = millisToHrTime(timeMs);
      if (def.kind === 'gauge') {
        (points[i] as Array<DataPoint<number>>).push({ startTime: end, endTime: end, attributes, value });
        return;
      }
      if (this.temporality[def.kind] === AggregationTemporality.DELTA) {
        const d = this.delta(seen, task.incarnation, `${i}:${attrId(pointAttributes)}`, value, timeMs, task.startTimeMs);
        seenTasks.set(task.incarnation, task);
        (points[i] as Array<DataPoint<number>>).push({ startTime: millisToHrTime(d.startMs), endTime: end, attributes, value: d.value });
      } else {
        (points[i] as Array<DataPoint<number>>).push({ startTime: millisToHrTime(task.startTimeMs), endTime: end, attributes, value });
      }
    });
    const metrics: MetricData[] = [];
    defs.forEach((def, i) => {
      const dp = points[i] as Array<DataPoint<number>>;
      if (dp.length > 0) metrics.push(this.metric(def, dp));
    });
    this.selfMetrics(snap.self, seen, metrics);
    // A task still registered that this collection did not read (cut off by the deadline) keeps
    // its state: its next delta continues the series instead of starting over at the task's
    // start time and counting everything again.
    // So does a stopped task whose final reading has not reached this reader yet (stopped during
    // a read, its final read still queued behind a storm of stops): for a few collections.
    const delivered = new Set(snap.finals.map((f) => f.task.incarnation));
    for (const [incarnation, state] of this.deltas) {
      const task = this.deltaTasks.get(incarnation);
      if (!task || seen.has(incarnation) || delivered.has(incarnation)) continue;
      const waits = (this.finalWaits.get(incarnation) ?? 0) + 1;
      if (!task.ended || (task.stopping && waits <= MAX_FINAL_WAITS)) {
        seen.set(incarnation, state);
        seenTasks.set(incarnation, task);
        if (task.ended) this.finalWaits.set(incarnation, waits);
      }
    }
    for (const incarnation of this.finalWaits.keys()) if (!seenTasks.has(incarnation)) this.finalWaits.delete(incarnation);
    // Series of ended tasks not seen in this collection (stopped, removed) lose their delta state: memory stays flat.
    this.deltas = seen;
    this.deltaTasks = seenTasks;
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics }] }, errors: [] };
  }

  /** Adds the held final readings (finalHoldMs) that no fresh final or live task replaces. */
  private withHeldFinals(snap: Snapshot): Snapshot {
    if (this.finalHoldMs <= 0 || this.temporality.counter === AggregationTemporality.DELTA) return snap;
    const now = Date.now();
    const taken = new Set<string>();
    for (const f of snap.finals) taken.add(f.task.key);
    for (const l of snap.live) taken.add(l.task.key);
    // A re-added id's live series (or a newer final) replaces the held one: never two series alike.
    this.held = this.held.filter((h) => h.untilMs > now && !taken.has(h.final.task.key));
    const shown = this.held.map((h) => h.final);
    for (const f of snap.finals) this.held.push({ final: f, untilMs: now + this.finalHoldMs });
    return shown.length ? { ...snap, finals: [...snap.finals, ...shown] } : snap;
  }

  /** Stops taking final readings: the queue no longer waits for this reader. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.engine.unregisterConsumer(this.consumer);
  }

  private delta(seen: Map<number, Map<string, DeltaState>>, incarnation: number, key: string, value: number, timeMs: number, startMs: number): { value: number; startMs: number } {
    const prevMap = this.deltas.get(incarnation);
    let next = seen.get(incarnation);
    if (!next) seen.set(incarnation, (next = new Map()));
    const prev = prevMap?.get(key);
    next.set(key, { value, timeMs });
    return prev ? { value: value - prev.value, startMs: prev.timeMs } : { value, startMs };
  }

  private metric(def: { name: string; description: string; unit: string; kind: MetricKind; valueType: 'int' | 'double' }, dataPoints: Array<DataPoint<number>>): MetricData {
    const descriptor = { name: def.name, description: def.description, unit: def.unit, valueType: def.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE };
    if (def.kind === 'gauge') {
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    return { descriptor, aggregationTemporality: this.temporality[def.kind], dataPointType: DataPointType.SUM, isMonotonic: def.kind === 'counter', dataPoints };
  }

  private selfMetrics(self: SelfSnapshot, seen: Map<number, Map<string, DeltaState>>, metrics: MetricData[]): void {
    const end = millisToHrTime(self.timeMs);
    const point = (def: SelfMetricDefinition, value: number, attributes: Attributes = {}): DataPoint<number> => {
      if (def.kind === 'gauge') return { startTime: end, endTime: end, attributes, value };
      if (this.temporality[def.kind] === AggregationTemporality.DELTA) {
        const d = this.delta(seen, 0, `${def.name}:${attributes['error.type'] ?? ''}`, value, self.timeMs, self.startTimeMs);
        return { startTime: millisToHrTime(d.startMs), endTime: end, attributes, value: d.value };
      }
      return { startTime: millisToHrTime(self.startTimeMs), endTime: end, attributes, value };
    };
    metrics.push(this.metric(SELF_METRICS.tasks, [point(SELF_METRICS.tasks, self.tasks)]));
    metrics.push(this.metric(SELF_METRICS.duration, [point(SELF_METRICS.duration, self.collectionDurationS)]));
    const errors = [...self.errors].map(([type, n]) => point(SELF_METRICS.errors, n, errorTypeAttrs(type)));
    if (errors.length) metrics.push(this.metric(SELF_METRICS.errors, errors));
    metrics.push(this.metric(SELF_METRICS.pending, [point(SELF_METRICS.pending, self.pending)]));
    metrics.push(this.metric(SELF_METRICS.missed, [point(SELF_METRICS.missed, self.missed)]));
    metrics.push(this.metric(SELF_METRICS.dropped, [point(SELF_METRICS.dropped, self.dropped)]));
  }
}

const errorAttrCache = new Map<string, Attributes>();
export function errorTypeAttrs(type: string): Attributes {
  let a = errorAttrCache.get(type);
  if (!a) errorAttrCache.set(type, (a = { 'error.type': type }));
  return a;
}
