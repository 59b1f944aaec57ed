/**
 * What each exporter needs to start, resolved from flags and OTEL_* variables by `config.ts`.
 * Types only: the exporters import these without importing the configuration's resolution.
 */
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';

export interface PrometheusSettings {
  host: string;
  port: number;
  path: string;
  /** `_seconds`, `_bytes` suffixes on metric names (OTel-to-Prometheus compatibility). */
  unitSuffixes: boolean;
  /** How long each final reading stays on the page after its first scrape (several scrapers). */
  finalHoldMs: number;
}

export interface OtlpSettings {
  protocol: OtlpProtocol;
  /**
   * HTTP: the full metrics URL; gRPC: scheme, host and port (`http://collector:4317`). Undefined
   * lets the exporter take OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT or its default.
   */
  endpoint?: string;
  /** HTTP headers, or gRPC metadata. */
  headers?: Record<string, string>;
  compression?: 'gzip' | 'none';
  timeoutMs?: number;
  temporality?: TemporalityPreference;
}

export interface ExporterSettings {
  prometheus: PrometheusSettings;
  otlp: OtlpSettings;
  /** OTEL_METRIC_EXPORT_INTERVAL: push interval. */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT: how long one push may take. */
  exportTimeoutMs: number;
}
