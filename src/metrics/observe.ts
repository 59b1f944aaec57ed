import { ValueType, diag, type Attributes, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import { SELF_METRICS, type MetricKind } from './catalog.ts';
import type { CgroupMetrics } from './cgroup-metrics.ts';
import { visitPoints } from './points.ts';
import { errorTypeAttrs } from './producer.ts';

export interface ObserveHandle {
  /** The instruments, by metric name. */
  readonly instruments: ReadonlyMap<string, Observable>;
  /** Removes the batch callback and stops taking final readings for it. */
  unregister(): void;
}

function create(meter: Meter, def: { name: string; kind: MetricKind; unit: string; description: string; valueType: 'int' | 'double' }): Observable {
  const opts = { unit: def.unit, description: def.description, valueType: def.valueType === 'int' ? ValueType.INT : ValueType.DOUBLE };
  if (def.kind === 'counter') return meter.createObservableCounter(def.name, opts);
  if (def.kind === 'updowncounter') return meter.createObservableUpDownCounter(def.name, opts);
  return meter.createObservableGauge(def.name, opts);
}

/**
 * The catalog as observable instruments with ONE batch callback. The SDK calls it once per
 * reader collection and fans its observations out to every reader, so the callback is a
 * single consumer of the final-readings queue: each final reading is observed once.
 * Known SDK limit (opentelemetry-js#4096): attribute sets of async instruments are never
 * forgotten, so stopped tasks' last values stay exported; use the producer under churn.
 */
export function observeInstruments(engine: CgroupMetrics, meter: Meter): ObserveHandle {
  const defs = engine.definitions;
  const instruments = defs.map((d) => create(meter, d));
  const self = Object.fromEntries(Object.entries(SELF_METRICS).map(([k, d]) => [k, create(meter, d)])) as Record<keyof typeof SELF_METRICS, Observable>;
  const all = [...instruments, ...Object.values(self)];
  const consumer = engine.registerConsumer();
  const empty: Attributes = {};

  const callback = async (result: BatchObservableResult): Promise<void> => {
    try {
      const snap = await engine.snapshot(consumer);
      visitPoints(defs, snap, (i, value, attributes) => result.observe(instruments[i] as Observable, value, attributes));
      result.observe(self.tasks, snap.self.tasks, empty);
      result.observe(self.duration, snap.self.collectionDurationS, empty);
      for (const [type, n] of snap.self.errors) result.observe(self.errors, n, errorTypeAttrs(type));
      result.observe(self.pending, snap.self.pending, empty);
      result.observe(self.missed, snap.self.missed, empty);
      result.observe(self.dropped, snap.self.dropped, empty);
    } catch (err) {
      // A throw would drop every observation of this collection; report and keep what we have.
      diag.error('otel-cgroup-metrics: batch callback failed', err);
    }
  };
  meter.addBatchObservableCallback(callback, all);
  return {
    instruments: new Map([...defs.map((d, i) => [d.name, instruments[i] as Observable] as const), ...Object.entries(SELF_METRICS).map(([k, d]) => [d.name, self[k as keyof typeof SELF_METRICS]] as const)]),
    unregister() {
      meter.removeBatchObservableCallback(callback, all);
      engine.unregisterConsumer(consumer);
    },
  };
}
