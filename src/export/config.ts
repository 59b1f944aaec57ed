import type { ExportFlags } from '../cli/flags.ts';
import { ConfigError } from '../errors.ts';
import { integerSetting } from '../integer-setting.ts';
import { EXPORTER_NAMES, isExporterName, type ExporterName } from './exporters.ts';
import type { ExporterSettings, OtlpProtocol, OtlpSettings, TemporalityPreference } from './settings.ts';

export type { ExporterName, OtlpProtocol, TemporalityPreference, ExportFlags };

/** Everything that decides where the data goes. Flags win over OTEL_* variables, which win over defaults. */
export interface ExportConfig extends ExporterSettings {
  exporters: ExporterName[];
}

type Env = Record<string, string | undefined>;

function nonEmpty(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t ? t : undefined;
}

export function parseExporters(value: string, what: string): ExporterName[] {
  const out: ExporterName[] = [];
  for (const raw of value.split(',')) {
    const e = raw.trim();
    if (e === '' || e === 'none') continue;
    if (!isExporterName(e)) throw new ConfigError(`${what}: unknown exporter ${JSON.stringify(e)}; use ${EXPORTER_NAMES.join(', ')} or none (comma-separated)`);
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
  const port = portText === undefined ? 9464 : integerSetting(portText, 'Prometheus port', { min: 0, max: 65535 });
  const path = flags['prometheus-path'] ?? '/metrics';
  if (!path.startsWith('/')) throw new ConfigError(`--prometheus-path must start with /, got ${JSON.stringify(path)}`);

  const protoSource: [string | undefined, string] =
    flags['otlp-protocol'] !== undefined
      ? [flags['otlp-protocol'], '--otlp-protocol']
      : nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL) !== undefined
        ? [nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL), 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']
        : [nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL), 'OTEL_EXPORTER_OTLP_PROTOCOL'];
  const [protoText, protoWhat] = protoSource;
  const otlp: OtlpSettings = { protocol: protoText === undefined ? 'http/protobuf' : parseProtocol(protoText, protoWhat) };
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
    if (flags['otlp-compression'] !== 'gzip' && flags['otlp-compression'] !== 'none')
      throw new ConfigError(`--otlp-compression must be gzip or none, got ${JSON.stringify(flags['otlp-compression'])}`);
    otlp.compression = flags['otlp-compression'];
  }
  if (flags['otlp-timeout'] !== undefined) otlp.timeoutMs = integerSetting(flags['otlp-timeout'], '--otlp-timeout', { min: 1 });
  if (flags['otlp-temporality'] !== undefined) otlp.temporality = parseTemporality(flags['otlp-temporality'], '--otlp-temporality');
  else if (nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE))
    otlp.temporality = parseTemporality(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE as string, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');

  const intervalText = flags.interval ?? nonEmpty(env.OTEL_METRIC_EXPORT_INTERVAL);
  const intervalMs =
    intervalText === undefined ? 60_000 : integerSetting(intervalText, flags.interval ? '--interval' : 'OTEL_METRIC_EXPORT_INTERVAL', { min: 1 });
  const timeoutText = nonEmpty(env.OTEL_METRIC_EXPORT_TIMEOUT);
  const exportTimeoutMs = Math.min(intervalMs, timeoutText === undefined ? 30_000 : integerSetting(timeoutText, 'OTEL_METRIC_EXPORT_TIMEOUT', { min: 1 }));

  return {
    exporters,
    prometheus: {
      host: flags['prometheus-host'] ?? nonEmpty(env.OTEL_EXPORTER_PROMETHEUS_HOST) ?? 'localhost',
      port,
      path,
      unitSuffixes: !flags['no-unit-suffixes'],
      finalHoldMs: flags['prometheus-final-hold'] === undefined ? 0 : integerSetting(flags['prometheus-final-hold'], '--prometheus-final-hold', { min: 0 }),
    },
    otlp,
    intervalMs,
    exportTimeoutMs,
  };
}
