import type { Attributes } from '@opentelemetry/api';
import type { CgroupStats } from '../cgroup/types.ts';
import type { MetricDefinition } from './catalog.ts';
import type { Snapshot, TaskView } from './snapshot.ts';

/**
 * Receives one point: the catalog row's index, the value, the full attributes, its reading,
 * and the point's own (interned) attributes, whose identity keys per-series state.
 */
export type PointSink = (
  defIndex: number,
  value: number,
  attributes: Attributes,
  task: TaskView,
  timeMs: number,
  pointAttributes: Attributes | undefined,
) => void;

/**
 * Walks every point of a snapshot through the catalog: final readings first (each at the
 * time it was taken), then live readings. Shared by the producer and the observable
 * instruments so that both paths export exactly the same points.
 */
export function visitPoints(defs: readonly MetricDefinition[], snap: Snapshot, sink: PointSink): void {
  for (const f of snap.finals) visitReading(defs, f.task, f.stats, f.timeMs, sink);
  for (const l of snap.live) visitReading(defs, l.task, l.result.stats, l.result.timeMs, sink);
}

function visitReading(defs: readonly MetricDefinition[], task: TaskView, stats: CgroupStats, timeMs: number, sink: PointSink): void {
  const base = task.attributes;
  let i = 0;
  // One closure per reading, not per metric: this runs for every task at every collection.
  const emit = (value: number, attrs?: Attributes): void => sink(i, value, attrs ? { ...base, ...attrs } : base, task, timeMs, attrs);
  const ctx = { startTimeMs: task.startTimeMs, timeMs };
  for (; i < defs.length; i++) (defs[i] as MetricDefinition).read(stats, emit, ctx);
}
