import { ValueType, diag, type Attributes, type BatchObservableResult, type Meter, type Observable } from '@opentelemetry/api';
import { SELF_CATALOG, type MetricKind } from './catalog.ts';
import { visitPoints } from './points.ts';
import type { SnapshotSource } from './snapshot-source.ts';

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

const NO_ATTRIBUTES: Attributes = {};

/**
 * The catalog as observable instruments with ONE batch callback. The SDK calls it once per
 * reader collection and fans its observations out to every reader, so the callback is a
 * single consumer of the final-readings queue: each final reading is observed once.
 * Known SDK limit (opentelemetry-js#4096): attribute sets of async instruments are never
 * forgotten, so stopped tasks' last values stay exported; use the producer under churn.
 */
export function observeInstruments(source: SnapshotSource, meter: Meter): ObserveHandle {
  const defs = source.definitions;
  const instruments = defs.map((d) => create(meter, d));
  const selfInstruments = SELF_CATALOG.map((d) => create(meter, d));
  const all = [...instruments, ...selfInstruments];
  // auto: a batch callback never learns whether the readers' exports arrived, so observed is delivered.
  const consumer = source.openConsumer();

  const callback = async (result: BatchObservableResult): Promise<void> => {
    try {
      const snap = await consumer.snapshot();
      visitPoints(defs, snap, (i, value, attributes) => result.observe(instruments[i] as Observable, value, attributes));
      for (const [i, d] of SELF_CATALOG.entries()) {
        const instrument = selfInstruments[i] as Observable;
        d.read(snap.self, (value, attributes) => result.observe(instrument, value, attributes ?? NO_ATTRIBUTES));
      }
    } catch (err) {
      // A throw would drop every observation of this collection: report it and keep what was observed.
      diag.error('otel-cgroup-metrics: batch callback failed', err);
    }
  };
  meter.addBatchObservableCallback(callback, all);
  const names = [...defs, ...SELF_CATALOG].map((d) => d.name);
  return {
    instruments: new Map(names.map((name, i) => [name, all[i] as Observable])),
    unregister() {
      meter.removeBatchObservableCallback(callback, all);
      consumer.close();
    },
  };
}
