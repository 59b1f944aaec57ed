import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
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
import { ConfigError } from '../errors.ts';
import { SELF_CATALOG, type MetricKind } from './catalog.ts';
import { recordDelivery } from './deliveries.ts';
import { visitPointsSliced } from './points.ts';
import { SCOPE } from './scope.ts';
import type { DeliveryReceipt, FinalReading, SelfSnapshot, Snapshot, TaskView } from './snapshot.ts';
import type { SnapshotConsumer, SnapshotSource } from './snapshot-source.ts';

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
  /**
   * When a collection's final readings count as delivered to this reader. `auto` (default): as
   * it collects, for a reader that cannot tell whether what it sent arrived. `manual`: only
   * once acknowledged, through collectDeliveries() around the reader's collect() and then
   * Deliveries.acknowledge(), or acknowledge(receipt); until then they go out again with this
   * producer's every collection (bounded by maxPendingFinalReadings, like the queue).
   */
  acknowledge?: 'auto' | 'manual';
  /** Longest run of point building before yielding to the event loop. Default 5 ms. */
  sliceMs?: number;
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
  if (id === undefined) {
    id = nextAttrId++;
    attrIds.set(a, id);
  }
  return id;
}

/** How many collections a stopped task's delta state waits for its final reading (then it is dropped: bounded memory). */
const MAX_FINAL_WAITS = 3;

/** The delta state key of the self metrics (task incarnations start at 1). */
const SELF_INCARNATION = 0;

const NO_ATTRIBUTES: Attributes = {};

interface DeltaState {
  value: number;
  timeMs: number;
}

/** One incarnation's delta state: its last value per series. */
interface DeltaSeries {
  /** Undefined for the self metrics. */
  task: TaskView | undefined;
  /** Last value per `row:attributes` series. */
  values: Map<string, DeltaState>;
  /** Collections this state has been kept, unseen, for a stopped task's final reading. */
  waits: number;
  /**
   * The values the final reading's deltas were taken against: a final reading that goes out
   * again (its collection was not acknowledged) repeats the same deltas, not zeros.
   */
  finalBase?: Map<string, DeltaState>;
}

type SeenSeries = Map<number, DeltaSeries>;

/**
 * A MetricProducer for one reader: its own cursor into the final-readings queue, so every
 * reader gets every final reading once; series of stopped tasks vanish after delivery.
 * Cumulative sums start at the task's start time; delta sums are computed here per series.
 */
export class CgroupMetricProducer implements MetricProducer {
  private readonly consumer: SnapshotConsumer;
  private readonly definitions: SnapshotSource['definitions'];
  private readonly temporality: Record<MetricKind, AggregationTemporality>;
  /** Delta state per incarnation seen in the last collection, or kept for a reading still due. */
  private deltas: SeenSeries = new Map();
  private closed = false;
  private readonly finalHoldMs: number;
  private readonly sliceMs: number;
  /** Final readings already delivered, shown again until their hold expires (finalHoldMs). */
  private held: Array<{ final: FinalReading; untilMs: number }> = [];
  private readonly manual: boolean;
  /** Incarnations whose final reading the collection in progress carries. */
  private finalNow: ReadonlySet<number> = new Set();

  constructor(source: SnapshotSource, options: ProducerOptions = {}) {
    const ack = options.acknowledge ?? 'auto';
    if (ack !== 'auto' && ack !== 'manual') throw new ConfigError(`producer option acknowledge must be 'auto' or 'manual', got ${JSON.stringify(ack)}`);
    this.manual = ack === 'manual';
    this.consumer = source.openConsumer({ acknowledge: ack });
    this.definitions = source.definitions;
    this.finalHoldMs = options.finalHoldMs ?? 0;
    this.sliceMs = options.sliceMs ?? 5;
    const t = options.temporality;
    const select = (type: InstrumentType): AggregationTemporality =>
      t === undefined
        ? AggregationTemporality.CUMULATIVE
        : typeof t === 'function'
          ? t(type)
          : typeof t === 'object'
            ? t.selectAggregationTemporality(type)
            : t;
    this.temporality = {
      counter: select(INSTRUMENT_TYPE.counter),
      updowncounter: select(INSTRUMENT_TYPE.updowncounter),
      gauge: AggregationTemporality.CUMULATIVE,
    };
  }

  /** The collection in progress: collections of one producer build one after another (they share its delta state). */
  private building: Promise<unknown> = Promise.resolve();

  collect(options?: MetricCollectOptions): Promise<CollectionResult> {
    const run = this.building.then(() => this.collectOnce(options));
    // Settled to undefined either way: the chain must not hold the last collection's points.
    this.building = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async collectOnce(options?: MetricCollectOptions): Promise<CollectionResult> {
    if (this.closed) return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] };
    const fresh = await this.consumer.snapshot(options?.timeoutMillis);
    if (this.manual) recordDelivery(this, fresh.delivery);
    this.finalNow = new Set(fresh.finals.map((f) => f.task.incarnation));
    const snap = this.withHeldFinals(fresh);
    const defs = this.definitions;
    const points: Array<Array<DataPoint<number>>> = defs.map(() => []);
    const seen: SeenSeries = new Map();
    await visitPointsSliced(
      defs,
      snap,
      (i, value, attributes, task, timeMs, pointAttributes) => {
        const def = defs[i];
        if (!def) return;
        (points[i] as Array<DataPoint<number>>).push(
          this.point(seen, def.kind, i, pointAttributes, task.incarnation, task, value, attributes, timeMs, task.startTimeMs),
        );
      },
      this.sliceMs,
    );
    const metrics: MetricData[] = [];
    defs.forEach((def, i) => {
      const dp = points[i] as Array<DataPoint<number>>;
      if (dp.length > 0) metrics.push(this.metric(def, dp));
    });
    this.selfMetrics(snap.self, seen, metrics);
    this.keepUnseen(seen, snap);
    // Every other incarnation (stopped or removed, and delivered or past its waits) loses its state: memory stays flat.
    this.deltas = seen;
    return { resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: SCOPE, metrics }] }, errors: [] };
  }

  /**
   * Keeps the delta state of incarnations this collection did not see whose series go on: a
   * live task the read did not reach by its deadline (its next delta continues the series
   * instead of counting everything since the start again), and a stopped task whose final
   * reading has not reached this reader yet (it is queued behind other finals), for at most
   * MAX_FINAL_WAITS collections.
   */
  private keepUnseen(seen: SeenSeries, snap: Snapshot): void {
    if (this.deltas.size === 0) return;
    const delivered = new Set(snap.finals.map((f) => f.task.incarnation));
    for (const [incarnation, state] of this.deltas) {
      const task = state.task;
      if (!task || seen.has(incarnation) || delivered.has(incarnation)) continue;
      if (task.lifecycle === 'live') seen.set(incarnation, state);
      else if (task.lifecycle === 'stopped' && state.waits < MAX_FINAL_WAITS) {
        state.waits++;
        seen.set(incarnation, state);
      }
    }
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

  /**
   * `acknowledge: 'manual'`: the final readings of the collection that issued `receipt` (and
   * of every earlier one) arrived; they never go out again. An older receipt after a newer one
   * changes nothing; so does any receipt after shutdown(). Throws ForeignReceiptError for a
   * receipt another producer issued.
   */
  acknowledge(receipt: DeliveryReceipt): void {
    this.consumer.acknowledge(receipt);
  }

  /** Final readings still queued that this reader has not acknowledged (0 after shutdown()). */
  get pending(): number {
    return this.consumer.pending;
  }

  /** Stops taking final readings: the queue no longer waits for this reader. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.consumer.close();
  }

  /**
   * One data point of catalog row `row` (or self row). Gauges span no time; cumulative sums
   * start at `startMs`; delta sums at the series' previous value, whose state goes to `seen`.
   */
  private point(
    seen: SeenSeries,
    kind: MetricKind,
    row: number,
    pointAttributes: Attributes | undefined,
    incarnation: number,
    task: TaskView | undefined,
    value: number,
    attributes: Attributes,
    timeMs: number,
    startMs: number,
  ): DataPoint<number> {
    const end = this.hrTime(timeMs);
    if (kind === 'gauge') return { startTime: end, endTime: end, attributes, value };
    if (this.temporality[kind] !== AggregationTemporality.DELTA) return { startTime: this.hrStart(startMs), endTime: end, attributes, value };
    const before = this.deltas.get(incarnation);
    const isFinal = this.finalNow.has(incarnation);
    let next = seen.get(incarnation);
    if (!next) {
      next = { task, values: new Map(), waits: 0 };
      if (isFinal) next.finalBase = before?.finalBase ?? before?.values ?? new Map();
      seen.set(incarnation, next);
    }
    const series = `${row}:${attrId(pointAttributes)}`;
    const prev = (isFinal ? next.finalBase : before?.values)?.get(series);
    next.values.set(series, { value, timeMs });
    return prev
      ? { startTime: millisToHrTime(prev.timeMs), endTime: end, attributes, value: value - prev.value }
      : { startTime: this.hrStart(startMs), endTime: end, attributes, value };
  }

  // One HrTime array per reading and per start time, shared by its points (nobody writes to
  // them): a point then allocates itself alone, and the young generation that a collection of
  // 1000 tasks fills (and a scavenge copies, pausing the loop) is about half as large.
  private lastEnd: { ms: number; hr: HrTime } = { ms: Number.NaN, hr: [0, 0] };
  private lastStart: { ms: number; hr: HrTime } = { ms: Number.NaN, hr: [0, 0] };

  private hrTime(ms: number): HrTime {
    if (this.lastEnd.ms !== ms) this.lastEnd = { ms, hr: millisToHrTime(ms) };
    return this.lastEnd.hr;
  }

  private hrStart(ms: number): HrTime {
    if (this.lastStart.ms !== ms) this.lastStart = { ms, hr: millisToHrTime(ms) };
    return this.lastStart.hr;
  }

  private metric(
    def: { name: string; description: string; unit: string; kind: MetricKind; valueType: 'int' | 'double' },
    dataPoints: Array<DataPoint<number>>,
  ): MetricData {
    const descriptor = { name: def.name, description: def.description, unit: def.unit, valueType: def.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE };
    if (def.kind === 'gauge') {
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints };
    }
    return {
      descriptor,
      aggregationTemporality: this.temporality[def.kind],
      dataPointType: DataPointType.SUM,
      isMonotonic: def.kind === 'counter',
      dataPoints,
    };
  }

  /** The self metrics, one per SELF_CATALOG row that has points. */
  private selfMetrics(self: SelfSnapshot, seen: SeenSeries, metrics: MetricData[]): void {
    SELF_CATALOG.forEach((def, row) => {
      const dataPoints: Array<DataPoint<number>> = [];
      def.read(self, (value, attrs) =>
        dataPoints.push(this.point(seen, def.kind, row, attrs, SELF_INCARNATION, undefined, value, attrs ?? NO_ATTRIBUTES, self.timeMs, self.startTimeMs)),
      );
      if (dataPoints.length > 0) metrics.push(this.metric(def, dataPoints));
    });
  }
}
