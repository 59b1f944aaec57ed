import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { watchExports, type ExportOutcomeListener } from './export-watch.ts';
import { createPushReader } from './push-reader.ts';
import type { ExporterSettings, OtlpSettings } from './settings.ts';

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
export function createOtlpExporter(config: OtlpSettings): PushMetricExporter {
  const options: ConstructorParameters<typeof ProtobufExporter>[0] = {};
  if (config.endpoint !== undefined) options.url = config.endpoint;
  if (config.headers !== undefined) options.headers = config.headers;
  if (config.compression !== undefined) options.compression = config.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  if (config.timeoutMs !== undefined) options.timeoutMillis = config.timeoutMs;
  if (config.temporality !== undefined) options.temporalityPreference = TEMPORALITY[config.temporality];
  return config.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
}

/** `--exporter otlp`: a push reader around an OTLP/HTTP exporter. */
export const otlpExporter = {
  name: 'otlp',
  start: async (engine: CgroupMetrics, settings: ExporterSettings, onExport?: ExportOutcomeListener) => {
    const exporter = createOtlpExporter(settings.otlp);
    const watched = onExport ? watchExports('otlp', exporter, settings.exportTimeoutMs, onExport) : exporter;
    return { reader: createPushReader(engine, watched, settings.intervalMs, settings.exportTimeoutMs) };
  },
} as const;
