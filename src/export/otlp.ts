import { Metadata } from '@grpc/grpc-js';
import { AggregationTemporalityPreference, OTLPMetricExporter as JsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { ConfigError } from '../errors.ts';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { watchExports, type ExportOutcomeListener } from './export-watch.ts';
import { createPushReader } from './push-reader.ts';
import type { ExporterSettings, OtlpSettings } from './settings.ts';

const TEMPORALITY = {
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
  delta: AggregationTemporalityPreference.DELTA,
  lowmemory: AggregationTemporalityPreference.LOWMEMORY,
} as const;

/** The OTLP/gRPC exporter: an optional peer dependency, loaded only when `grpc` is chosen. */
export const GRPC_EXPORTER_PACKAGE = '@opentelemetry/exporter-metrics-otlp-grpc';

/** The options every OTLP exporter takes, from what flags set (the rest the exporter reads from OTEL_EXPORTER_OTLP_*). */
function commonOptions(config: OtlpSettings): ConstructorParameters<typeof ProtobufExporter>[0] & {} {
  const options: ConstructorParameters<typeof ProtobufExporter>[0] & {} = {};
  if (config.endpoint !== undefined) options.url = config.endpoint;
  if (config.compression !== undefined) options.compression = config.compression === 'gzip' ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE;
  if (config.timeoutMs !== undefined) options.timeoutMillis = config.timeoutMs;
  if (config.temporality !== undefined) options.temporalityPreference = TEMPORALITY[config.temporality];
  return options;
}

/**
 * An OTLP/HTTP exporter (protobuf by default, as in the OTel SDKs, or JSON). Only what flags
 * set is passed: the exporter itself reads OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT, _HEADERS,
 * _COMPRESSION, _TIMEOUT and _TEMPORALITY_PREFERENCE for the rest. `grpc` needs the exporter
 * loaded first: use loadOtlpExporter().
 */
export function createOtlpExporter(config: OtlpSettings): PushMetricExporter {
  if (config.protocol === 'grpc') throw new ConfigError('createOtlpExporter() makes OTLP/HTTP exporters; use loadOtlpExporter() for grpc');
  const options = commonOptions(config);
  if (config.headers !== undefined) options.headers = config.headers;
  return config.protocol === 'http/json' ? new JsonExporter(options) : new ProtobufExporter(options);
}

/**
 * Whether the gRPC exporter can be loaded from where this package is installed: checked before
 * anything starts, so that a missing optional peer is a usage error naming the package.
 */
export function checkGrpcExporterInstalled(what: string): void {
  try {
    import.meta.resolve(GRPC_EXPORTER_PACKAGE);
  } catch {
    throw new ConfigError(
      `${what}: grpc needs ${GRPC_EXPORTER_PACKAGE}, an optional peer dependency that is not installed: ` +
        `npm install ${GRPC_EXPORTER_PACKAGE}@0.223 (OpenTelemetry JS 2.x) or @0.301 (3.x), the line of your @opentelemetry/sdk-metrics`,
    );
  }
}

/**
 * Any OTLP exporter: OTLP/HTTP as createOtlpExporter() makes it, or OTLP/gRPC
 * (@opentelemetry/exporter-metrics-otlp-grpc, loaded now). The gRPC exporter reads the same
 * OTEL_EXPORTER_OTLP_* variables (its endpoint without `/v1/metrics`, default
 * http://localhost:4317; `https://` is TLS with the system's roots or
 * OTEL_EXPORTER_OTLP_CERTIFICATE; the headers go as gRPC metadata).
 */
export async function loadOtlpExporter(config: OtlpSettings): Promise<PushMetricExporter> {
  if (config.protocol !== 'grpc') return createOtlpExporter(config);
  checkGrpcExporterInstalled('OTLP protocol');
  const { OTLPMetricExporter: GrpcExporter } = (await import(GRPC_EXPORTER_PACKAGE)) as typeof import('@opentelemetry/exporter-metrics-otlp-grpc');
  const options: ConstructorParameters<typeof GrpcExporter>[0] & {} = commonOptions(config);
  if (config.headers !== undefined) {
    // Merged by the exporter over OTEL_EXPORTER_OTLP_(METRICS_)HEADERS: flags win, as for HTTP.
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(config.headers)) metadata.set(key, value);
    options.metadata = metadata;
  }
  return new GrpcExporter(options);
}

/** `--exporter otlp`: a push reader around an OTLP exporter (HTTP or gRPC). */
export const otlpExporter = {
  name: 'otlp',
  start: async (engine: CgroupMetrics, settings: ExporterSettings, onExport?: ExportOutcomeListener) => {
    const exporter = await loadOtlpExporter(settings.otlp);
    const watched = onExport ? watchExports('otlp', exporter, settings.exportTimeoutMs, onExport) : exporter;
    return { reader: createPushReader(engine, watched, settings.intervalMs, settings.exportTimeoutMs) };
  },
} as const;
