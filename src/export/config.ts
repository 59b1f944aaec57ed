import { ConfigError } from '../errors.ts';

export type ExporterName = 'prometheus' | 'otlp' | 'console';
export type OtlpProtocol = 'http/protobuf' | 'http/json';
export type TemporalityPreference = 'cumulative' | 'delta' | 'lowmemory';

/** Everything that decides where the data goes. Flags win over OTEL_* variables, which win over defaults. */
export interface ExportConfig {
  exporters: ExporterName[];
  prometheus: {
    host: string;
    port: number;
    path: string;
    /** `_seconds`, `_bytes` suffixes on metric names (OTel-to-Prometheus compatibility). */
    unitSuffixes: boolean;
    /** How long each final reading stays on the page after its first scrape (several scrapers). */
    finalHoldMs: number;
  };
  otlp: {
    protocol: OtlpProtocol;
    /** Full metrics URL; undefined lets the exporter take OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT or its default. */
    endpoint?: string;
    headers?: Record<string, string>;
    compression?: 'gzip' | 'none';
    timeoutMs?: number;
    temporality?: TemporalityPreference;
  };
  /** OTEL_METRIC_EXPORT_INTERVAL: push interval. */
  intervalMs: number;
  /** OTEL_METRIC_EXPORT_TIMEOUT: how long one push may take. */
  exportTimeoutMs: number;
}

/** The flags that override the environment (all optional). */
export interface ExportFlags {
  exporter?: string;
  'prometheus-host'?: string;
  'prometheus-port'?: string;
  'prometheus-path'?: string;
  'no-unit-suffixes'?: boolean;
  'prometheus-final-hold'?: string;
  'otlp-endpoint'?: string;
  'otlp-protocol'?: string;
  'otlp-header'?: string[];
  'otlp-compression'?: string;
  'otlp-timeout'?: string;
  'otlp-temporality'?: string;
  interval?: string;
}

type Env = Record<string, string | undefined>;

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

function positiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

function nonNegativeInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`${what} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

export function parseExporters(value: string, what: string): ExporterName[] {
  const out: ExporterName[] = [];
  for (const raw of value.split(',')) {
    const e = raw.trim();
    if (e === '' || e === 'none') continue;
    if (e !== 'prometheus' && e !== 'otlp' && e !== 'console') throw new ConfigError(`${what}: unknown exporter ${JSON.stringify(e)}; use prometheus, otlp, console or none (comma-separated)`);
    if (!out.includes(e)) out.push(e);
  }
  return out;
}

function parseProtocol(value: string, what: string): OtlpProtocol {
  if (value === 'http/protobuf' || value === 'http/json') return value;
  if (value === 'grpc') throw new ConfigError(`${what}: grpc is not supported; use http/protobuf (default) or http/json`);
  throw new ConfigError(`${what}: unknown OTLP protocol ${JSON.stringify(value)}; use http/protobuf or http/json`);
}

function parseTemporality(value: string, what: string): TemporalityPreference {
  const v = value.toLowerCase();
  if (v === 'cumulative' || v === 'delta' || v === 'lowmemory') return v;
  throw new ConfigError(`${what}: unknown temporality ${JSON.stringify(value)}; use cumulative, delta or lowmemory`);
}

function parseHeader(h: string): [string, string] {
  const eq = h.indexOf('=');
  if (eq <= 0) throw new ConfigError(`--otlp-header ${JSON.stringify(h)}: expected KEY=VALUE`);
  return [h.slice(0, eq).trim(), h.slice(eq + 1).trim()];
}

/** Resolves the export configuration from flags and the standard OTEL_* variables. */
export function resolveExportConfig(flags: ExportFlags, env: Env = process.env): ExportConfig {
  const exporters =
    flags.exporter !== undefined
      ? parseExporters(flags.exporter, '--exporter')
      : nonEmpty(env.OTEL_METRICS_EXPORTER) !== undefined
        ? parseExporters(env.OTEL_METRICS_EXPORTER as string, 'OTEL_METRICS_EXPORTER')
        : (['prometheus'] as ExporterName[]);

  const portText = flags['prometheus-port'] ?? nonEmpty(env.OTEL_EXPORTER_PROMETHEUS_PORT);
  const port = portText === undefined ? 9464 : Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`Prometheus port must be 0-65535, got ${JSON.stringify(portText)}`);
  const path = flags['prometheus-path'] ?? '/metrics';
  if (!path.startsWith('/')) throw new ConfigError(`--prometheus-path must start with /, got ${JSON.stringify(path)}`);

  const protoSource: [string | undefined, string] =
    flags['otlp-protocol'] !== undefined
      ? [flags['otlp-protocol'], '--otlp-protocol']
      : nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL) !== undefined
        ? [nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL), 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']
        : [nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL), 'OTEL_EXPORTER_OTLP_PROTOCOL'];
  const [protoText, protoWhat] = protoSource;
  const otlp: ExportConfig['otlp'] = { protocol: protoText === undefined ? 'http/protobuf' : parseProtocol(protoText, protoWhat) };
  if (flags['otlp-endpoint'] !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(flags['otlp-endpoint']);
    } catch {
      url = undefined;
    }
    // `collector:4318` parses as a URL with the scheme `collector:`: only http(s) is an endpoint.
    if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
      throw new ConfigError(`--otlp-endpoint ${JSON.stringify(flags['otlp-endpoint'])} is not an http(s) URL (e.g. http://collector:4318/v1/metrics)`);
    }
    otlp.endpoint = flags['otlp-endpoint'];
  }
  if (flags['otlp-header']?.length) otlp.headers = Object.fromEntries(flags['otlp-header'].map(parseHeader));
  if (flags['otlp-compression'] !== undefined) {
    if (flags['otlp-compression'] !== 'gzip' && flags['otlp-compression'] !== 'none') throw new ConfigError(`--otlp-compression must be gzip or none, got ${JSON.stringify(flags['otlp-compression'])}`);
    otlp.compression = flags['otlp-compression'];
  }
  if (flags['otlp-timeout'] !== undefined) otlp.timeoutMs = positiveInt(flags['otlp-timeout'], '--otlp-timeout');
  if (flags['otlp-temporality'] !== undefined) otlp.temporality = parseTemporality(flags['otlp-temporality'], '--otlp-temporality');
  else if (nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE)) otlp.temporality = parseTemporality(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE as string, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');

  const intervalText = flags.interval ?? nonEmpty(env.OTEL_METRIC_EXPORT_INTERVAL);
  const intervalMs = intervalText === undefined ? 60_000 : positiveInt(intervalText, flags.interval ? '--interval' : 'OTEL_METRIC_EXPORT_INTERVAL');
  const timeoutText = nonEmpty(env.OTEL_METRIC_EXPORT_TIMEOUT);
  const exportTimeoutMs = Math.min(intervalMs, timeoutText === undefined ? 30_000 : positiveInt(timeoutText, 'OTEL_METRIC_EXPORT_TIMEOUT'));

  return {
    exporters,
    prometheus: {
      host: flags['prometheus-host'] ?? nonEmpty(env.OTEL_EXPORTER_PROMETHEUS_HOST) ?? 'localhost',
      port,
      path,
      unitSuffixes: !flags['no-unit-suffixes'],
      finalHoldMs: flags['prometheus-final-hold'] === undefined ? 0 : nonNegativeInt(flags['prometheus-final-hold'], '--prometheus-final-hold'),
    },
    otlp,
    intervalMs,
    exportTimeoutMs,
  };
}
