import type { ExportFlags } from '../cli/flags.ts';
import { ConfigError } from '../errors.ts';
import { durationSetting, integerSetting } from '../integer-setting.ts';
import { EXPORTER_NAMES, isExporterName, type ExporterName } from './exporters.ts';
import { checkGrpcExporterInstalled } from './otlp.ts';
import { checkResourceAttributes } from './resource.ts';
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
  if (value === 'http/protobuf' || value === 'http/json' || value === 'grpc') return value;
  throw new ConfigError(`${what}: unknown OTLP protocol ${JSON.stringify(value)}; use http/protobuf, http/json or grpc`);
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

/**
 * An OTLP endpoint: an http(s) URL (`collector:4318` parses as a URL with the scheme
 * `collector:`). For gRPC only scheme, host and port count (`https://` is TLS): the exporter
 * would drop a path without a word, so a path (`:4318/v1/metrics`, an HTTP endpoint) is refused.
 */
function checkEndpoint(value: string, what: string, protocol: OtlpProtocol): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  const example = protocol === 'grpc' ? 'http://collector:4317' : 'http://collector:4318/v1/metrics';
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') {
    throw new ConfigError(`${what} ${JSON.stringify(value)} is not an http(s) URL (e.g. ${example})`);
  }
  if (protocol === 'grpc' && (url.pathname !== '/' || url.search !== '' || url.hash !== '')) {
    throw new ConfigError(`${what} ${JSON.stringify(value)}: an OTLP/gRPC endpoint has no path (e.g. ${example})`);
  }
}

/**
 * OTEL_EXPORTER_OTLP_(METRICS_)HEADERS: `key=value` entries, comma-separated, percent-encoded
 * (W3C baggage). The exporter drops a malformed entry without a word; here it is refused.
 */
export function checkHeadersVariable(value: string, what: string): void {
  for (const entry of value.split(',')) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    const bad = (why: string): ConfigError => new ConfigError(`${what}: entry ${JSON.stringify(entry)} ${why}`);
    if (eq < 0 || entry.slice(0, eq).trim() === '' || entry.slice(eq + 1).trim() === '') throw bad('is not key=value (both non-empty)');
    if (entry.includes(';')) throw bad("holds ';', which the exporter would cut the value at: percent-encode it (%3B)");
    try {
      decodeURIComponent(entry);
    } catch {
      throw bad('has a malformed percent-encoding');
    }
  }
}

/**
 * The OTEL_EXPORTER_OTLP_* variables the OTLP exporter reads itself, for what no flag sets:
 * checked like the flags, since the exporter would log a bad value to its diagnostic logger
 * (none by default) and quietly use its default instead.
 */
function checkOtlpVariables(flags: ExportFlags, env: Env, protocol: OtlpProtocol): void {
  const pairs = (suffix: string): Array<[string, string]> =>
    [`OTEL_EXPORTER_OTLP_METRICS_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`].flatMap((name) => {
      const v = nonEmpty(env[name]);
      return v === undefined ? [] : [[name, v] as [string, string]];
    });
  if (flags['otlp-endpoint'] === undefined) {
    for (const [name, v] of pairs('ENDPOINT')) checkEndpoint(v, name, protocol);
  }
  for (const [name, v] of pairs('HEADERS')) checkHeadersVariable(v, name);
  if (flags['otlp-timeout'] === undefined) for (const [name, v] of pairs('TIMEOUT')) durationSetting(v, name);
  if (flags['otlp-compression'] === undefined)
    for (const [name, v] of pairs('COMPRESSION'))
      if (v !== 'gzip' && v !== 'none') throw new ConfigError(`${name} must be gzip or none, got ${JSON.stringify(v)}`);
}

/** `--prometheus-path`: what a request's path can equal. */
function checkPrometheusPath(path: string): void {
  if (!/^\/[^?#\s]*$/.test(path))
    throw new ConfigError(`--prometheus-path must be an absolute path without ?, # or blanks (e.g. /metrics), got ${JSON.stringify(path)}`);
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
  checkPrometheusPath(path);
  const hostFlag = flags['prometheus-host'];
  if (hostFlag !== undefined && hostFlag.trim() === '')
    throw new ConfigError('--prometheus-host must name a host or address (0.0.0.0 for every interface), got ""');

  const protoSource: [string | undefined, string] =
    flags['otlp-protocol'] !== undefined
      ? [flags['otlp-protocol'], '--otlp-protocol']
      : nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL) !== undefined
        ? [nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL), 'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL']
        : [nonEmpty(env.OTEL_EXPORTER_OTLP_PROTOCOL), 'OTEL_EXPORTER_OTLP_PROTOCOL'];
  const [protoText, protoWhat] = protoSource;
  const otlp: OtlpSettings = { protocol: protoText === undefined ? 'http/protobuf' : parseProtocol(protoText, protoWhat) };
  if (flags['otlp-endpoint'] !== undefined) {
    checkEndpoint(flags['otlp-endpoint'], '--otlp-endpoint', otlp.protocol);
    otlp.endpoint = flags['otlp-endpoint'];
  }
  if (exporters.includes('otlp')) {
    checkOtlpVariables(flags, env, otlp.protocol);
    if (otlp.protocol === 'grpc') checkGrpcExporterInstalled(protoWhat);
  }
  const resourceAttributes = nonEmpty(env.OTEL_RESOURCE_ATTRIBUTES);
  if (resourceAttributes !== undefined) checkResourceAttributes(resourceAttributes, 'OTEL_RESOURCE_ATTRIBUTES');
  if (flags['otlp-header']?.length) otlp.headers = Object.fromEntries(flags['otlp-header'].map(parseHeader));
  if (flags['otlp-compression'] !== undefined) {
    if (flags['otlp-compression'] !== 'gzip' && flags['otlp-compression'] !== 'none')
      throw new ConfigError(`--otlp-compression must be gzip or none, got ${JSON.stringify(flags['otlp-compression'])}`);
    otlp.compression = flags['otlp-compression'];
  }
  if (flags['otlp-timeout'] !== undefined) otlp.timeoutMs = durationSetting(flags['otlp-timeout'], '--otlp-timeout');
  if (flags['otlp-temporality'] !== undefined) otlp.temporality = parseTemporality(flags['otlp-temporality'], '--otlp-temporality');
  else if (nonEmpty(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE))
    otlp.temporality = parseTemporality(env.OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE as string, 'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE');

  const intervalText = flags.interval ?? nonEmpty(env.OTEL_METRIC_EXPORT_INTERVAL);
  const intervalMs = intervalText === undefined ? 60_000 : durationSetting(intervalText, flags.interval ? '--interval' : 'OTEL_METRIC_EXPORT_INTERVAL');
  const timeoutText = nonEmpty(env.OTEL_METRIC_EXPORT_TIMEOUT);
  const exportTimeoutMs = Math.min(intervalMs, timeoutText === undefined ? 30_000 : durationSetting(timeoutText, 'OTEL_METRIC_EXPORT_TIMEOUT'));

  return {
    exporters,
    prometheus: {
      host: flags['prometheus-host'] ?? nonEmpty(env.OTEL_EXPORTER_PROMETHEUS_HOST) ?? 'localhost',
      port,
      path,
      unitSuffixes: !flags['no-unit-suffixes'],
      finalHoldMs: flags['prometheus-final-hold'] === undefined ? 0 : durationSetting(flags['prometheus-final-hold'], '--prometheus-final-hold', 0),
    },
    otlp,
    intervalMs,
    exportTimeoutMs,
  };
}
