import { PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';

/**
 * A push reader: collects through a producer of its own (temporality as the exporter
 * prefers) every interval. A collector that is down or answers 500 fails that export only;
 * nothing is buffered between exports, so memory stays bounded and the next export after
 * recovery carries the current values.
 */
export function createPushReader(engine: CgroupMetrics, exporter: PushMetricExporter, intervalMs: number, timeoutMs: number): PeriodicExportingMetricReader {
  const temporalitySource = exporter as PushMetricExporter & { selectAggregationTemporality?: PeriodicExportingMetricReader['selectAggregationTemporality'] };
  const select = temporalitySource.selectAggregationTemporality?.bind(exporter);
  return new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [engine.producer(select ? { temporality: (t) => select(t) } : {})],
  });
}
