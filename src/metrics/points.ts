import type { Attributes } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import { nextLoopTurn as yieldToLoop } from '../loop-turn.ts';
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

/**
 * visitPoints() in slices of `sliceMs`, yielding to the event loop between them: the points of
 * 1000 tasks take ~11 ms to build, more than a scrape or a timer should wait. The readings are
 * walked in the same order; the snapshot must not change meanwhile (it is the caller's own).
 * The first reading waits for a turn of the loop too.
 */
export async function visitPointsSliced(defs: readonly MetricDefinition[], snap: Snapshot, sink: PointSink, sliceMs: number): Promise<void> {
  // The read's last slice ran just before: a turn of the loop first, so the two never add up.
  let sliceStart = Number.NEGATIVE_INFINITY;
  const readings = snap.finals.length + snap.live.length;
  for (let k = 0; k < readings; k++) {
    if (performance.now() - sliceStart >= sliceMs) {
      await yieldToLoop();
      sliceStart = performance.now();
    }
    if (k < snap.finals.length) {
      const f = snap.finals[k] as Snapshot['finals'][number];
      visitReading(defs, f.task, f.stats, f.timeMs, sink);
    } else {
      const l = snap.live[k - snap.finals.length] as Snapshot['live'][number];
      visitReading(defs, l.task, l.result.stats, l.result.timeMs, sink);
    }
  }
}

function visitReading(defs: readonly MetricDefinition[], task: TaskView, stats: CgroupStats, timeMs: number, sink: PointSink): void {
  const base = task.attributes;
  let i = 0;
  // One closure per reading, not per metric: this runs for every task at every collection.
  const emit = (value: number, attrs?: Attributes): void => sink(i, value, attrs ? { ...base, ...attrs } : base, task, timeMs, attrs);
  const ctx = { startTimeMs: task.startTimeMs, timeMs };
  for (; i < defs.length; i++) (defs[i] as MetricDefinition).read(stats, emit, ctx);
}
