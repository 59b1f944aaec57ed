import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import type { ExportConfig } from './config.ts';

const TEMPORALITY = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
} as const;

/**
 * An OTLP/HTTP exporter (protobuf by default, as in the OTel SDKs, or JSON). Only what flags
 * set is passed: the exporter itself reads OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT, _HEADERS,
 * _COMPRESSION, _TIMEOUT and _TEMPORALITY_PREFERENCE for the rest.
 */
export function createOtlpExporter(config: ExportConfig['otlp']): PushMetricExporter {
  const options: ConstructorParameters<typeof ProtobufExporter>[0] = {};
  if (config.endpoint !== undefined) options.url = config.endpoint;
  if (config.headers !== undefined) options.headers = config.headers;
  if (config.compression !== undefined) options.compression = config.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  if (config.timeoutMs !== undefined) options.timeoutMillis = config.timeoutMs;
  if (config.temporality !== undefined) options.temporalityPreference = TEMPORALITY[config.temporality];
  return config.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
}

/**
 * A push reader: collects through a producer of its own (temporality as the exporter
 * prefers) every interval. A collector that is down or answers 500 fails that export only;
 * nothing is buffered between exports, so memory stays bounded and the next export after
 * recovery carries the current values.
 */
export function createPushReader(engine: CgroupMetrics, exporter: PushMetricExporter, intervalMs: number, timeoutMs: number): PeriodicExportingMetricReader {
  const temporalitySource = exporter as PushMetricExporter & { selectAggregationTemporality?: PeriodicExportingMetricReader['selectAggregationTemporality'] };
  return new PeriodicExportingMetricReader({
    exporter,
    exportIntervalMillis: intervalMs,
    exportTimeoutMillis: timeoutMs,
    metricProducers: [engine.producer(temporalitySource.selectAggregationTemporality ? { temporality: (t) => temporalitySource.selectAggregationTemporality!(t) } : {})],
  });
}
