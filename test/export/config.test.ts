/**
 * Export configuration: flags win over the standard OTEL_* variables, which win over the
 * defaults; every refusal is a ConfigError that names the flag or variable and the value.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/errors.ts';
import { parseExporters, resolveExportConfig, type ExportFlags } from '../../src/export/config.ts';

type Env = Record<string, string | undefined>;

/** resolveExportConfig with an explicit environment (never the test process's own). */
function resolve(flags: ExportFlags = {}, env: Env = {}): ReturnType<typeof resolveExportConfig> {
  return resolveExportConfig(flags, env);
}

/** Asserts a ConfigError whose message matches every pattern. */
function refuses(flags: ExportFlags, env: Env, ...patterns: RegExp[]): void {
  assert.throws(
    () => resolve(flags, env),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      for (const p of patterns) assert.match(err.message, p);
      return true;
    },
  );
}

describe('defaults', () => {
  test('no flags, empty environment', () => {
    assert.deepEqual(resolve(), {
      exporters: ['prometheus'],
      prometheus: { host: 'localhost', port: 9464, path: '/metrics', unitSuffixes: true, finalHoldMs: 0 },
      otlp: { protocol: 'http/protobuf' },
      intervalMs: 60_000,
      exportTimeoutMs: 30_000,
    });
  });

  test('empty and blank variables count as unset', () => {
    const c = resolve(
      {},
      {
        OTEL_METRICS_EXPORTER: '  ',
        OTEL_EXPORTER_PROMETHEUS_HOST: '',
        OTEL_EXPORTER_PROMETHEUS_PORT: ' ',
        OTEL_EXPORTER_OTLP_PROTOCOL: '',
        OTEL_METRIC_EXPORT_INTERVAL: '',
        OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: '',
      },
    );
    assert.deepEqual(c.exporters, ['prometheus']);
    assert.equal(c.prometheus.host, 'localhost');
    assert.equal(c.prometheus.port, 9464);
    assert.equal(c.otlp.protocol, 'http/protobuf');
    assert.equal(c.otlp.temporality, undefined);
    assert.equal(c.intervalMs, 60_000);
  });
});

describe('exporters', () => {
  test('OTEL_METRICS_EXPORTER: each name, none, comma lists with blanks and duplicates', () => {
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: 'prometheus' }).exporters, ['prometheus']);
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: 'otlp' }).exporters, ['otlp']);
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: 'console' }).exporters, ['console']);
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: 'none' }).exporters, []);
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: 'otlp,prometheus' }).exporters, ['otlp', 'prometheus']);
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: ' otlp , console ,, otlp ' }).exporters, ['otlp', 'console']);
    assert.deepEqual(resolve({}, { OTEL_METRICS_EXPORTER: 'none,otlp' }).exporters, ['otlp']);
  });

  test('--exporter wins over OTEL_METRICS_EXPORTER', () => {
    assert.deepEqual(resolve({ exporter: 'console' }, { OTEL_METRICS_EXPORTER: 'otlp' }).exporters, ['console']);
    assert.deepEqual(resolve({ exporter: 'none' }, { OTEL_METRICS_EXPORTER: 'otlp,prometheus' }).exporters, []);
    // Even an invalid variable is not looked at when the flag is given.
    assert.deepEqual(resolve({ exporter: 'prometheus,otlp' }, { OTEL_METRICS_EXPORTER: 'zipkin' }).exporters, ['prometheus', 'otlp']);
  });

  test('an unknown exporter is a ConfigError naming it and where it came from', () => {
    refuses({}, { OTEL_METRICS_EXPORTER: 'otlp,jaeger' }, /OTEL_METRICS_EXPORTER/, /unknown exporter "jaeger"/, /prometheus, otlp, console or none/);
    refuses({ exporter: 'logging' }, {}, /--exporter/, /"logging"/);
    assert.throws(() => parseExporters('Prometheus', 'X'), /unknown exporter "Prometheus"/);
  });
});

describe('Prometheus endpoint', () => {
  test('OTEL_EXPORTER_PROMETHEUS_HOST and _PORT', () => {
    const c = resolve({}, { OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0', OTEL_EXPORTER_PROMETHEUS_PORT: '9100' });
    assert.equal(c.prometheus.host, '0.0.0.0');
    assert.equal(c.prometheus.port, 9100);
  });

  test('--prometheus-host/--prometheus-port win over the variables', () => {
    const c = resolve(
      { 'prometheus-host': '127.0.0.1', 'prometheus-port': '19464' },
      { OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0', OTEL_EXPORTER_PROMETHEUS_PORT: '9100' },
    );
    assert.equal(c.prometheus.host, '127.0.0.1');
    assert.equal(c.prometheus.port, 19464);
  });

  test('bad ports are refused with the value', () => {
    refuses({}, { OTEL_EXPORTER_PROMETHEUS_PORT: 'http' }, /port must be 0-65535/, /"http"/);
    refuses({ 'prometheus-port': '65536' }, {}, /"65536"/);
    refuses({ 'prometheus-port': '-1' }, {}, /"-1"/);
    refuses({ 'prometheus-port': '94.64' }, {}, /"94.64"/);
  });

  test('--prometheus-path must be absolute; --no-unit-suffixes', () => {
    assert.equal(resolve({ 'prometheus-path': '/m' }).prometheus.path, '/m');
    refuses({ 'prometheus-path': 'metrics' }, {}, /--prometheus-path must be an absolute path/, /"metrics"/);
    assert.equal(resolve({ 'no-unit-suffixes': true }).prometheus.unitSuffixes, false);
    assert.equal(resolve({ 'no-unit-suffixes': false }).prometheus.unitSuffixes, true);
    assert.throws(() => resolve({ 'prometheus-final-hold': '-5' }), /--prometheus-final-hold must be a non-negative integer, got "-5"/);
  });
});

describe('OTLP', () => {
  test('protocol: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL over OTEL_EXPORTER_OTLP_PROTOCOL, the flag over both', () => {
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp.protocol, 'http/json');
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }).otlp.protocol, 'http/json');
    assert.equal(
      resolve({}, { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp.protocol,
      'http/protobuf',
    );
    assert.equal(resolve({ 'otlp-protocol': 'http/protobuf' }, { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' }).otlp.protocol, 'http/protobuf');
    // The specific variable shadows a bad generic one.
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).otlp.protocol, 'http/json');
  });

  test('grpc: chosen by the flag or either variable; an endpoint with a path (an HTTP one) is refused', () => {
    assert.equal(resolve({ exporter: 'otlp', 'otlp-protocol': 'grpc' }).otlp.protocol, 'grpc');
    assert.equal(resolve({ exporter: 'otlp' }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).otlp.protocol, 'grpc');
    assert.equal(
      resolve({ exporter: 'otlp' }, { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }).otlp.protocol,
      'grpc',
    );
    assert.equal(resolve({ 'otlp-protocol': 'grpc', 'otlp-endpoint': 'https://collector:4317' }).otlp.endpoint, 'https://collector:4317');
    refuses(
      { 'otlp-protocol': 'grpc', 'otlp-endpoint': 'http://collector:4318/v1/metrics' },
      {},
      /^--otlp-endpoint "http:\/\/collector:4318\/v1\/metrics": an OTLP\/gRPC endpoint has no path \(e\.g\. http:\/\/collector:4317\)$/,
    );
    refuses(
      { exporter: 'otlp', 'otlp-protocol': 'grpc' },
      { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://c:4317/x' },
      /^OTEL_EXPORTER_OTLP_METRICS_ENDPOINT "http:\/\/c:4317\/x": an OTLP\/gRPC endpoint has no path/,
    );
    refuses(
      { exporter: 'otlp', 'otlp-protocol': 'grpc' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4317' },
      /is not an http\(s\) URL \(e\.g\. http:\/\/collector:4317\)/,
    );
    refuses({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/thrift' }, /unknown OTLP protocol "http\/thrift"; use http\/protobuf, http\/json or grpc$/);
  });

  test('endpoint: a URL or a ConfigError; absent leaves it to the exporter (OTEL_EXPORTER_OTLP_*ENDPOINT)', () => {
    assert.equal(resolve({ 'otlp-endpoint': 'http://collector:4318/v1/metrics' }).otlp.endpoint, 'http://collector:4318/v1/metrics');
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }).otlp.endpoint, undefined);
    refuses({ 'otlp-endpoint': 'collector:4318' }, {}, /--otlp-endpoint "collector:4318" is not an http\(s\) URL/);
    refuses({ 'otlp-endpoint': 'not a url' }, {}, /--otlp-endpoint "not a url" is not an http\(s\) URL/);
  });

  test('headers: repeated K=V, the value may hold "=", a pair without "=" is refused', () => {
    assert.deepEqual(resolve({ 'otlp-header': ['Authorization=Bearer abc==', 'x-tenant = t1'] }).otlp.headers, {
      Authorization: 'Bearer abc==',
      'x-tenant': 't1',
    });
    assert.equal(resolve({ 'otlp-header': [] }).otlp.headers, undefined);
    refuses({ 'otlp-header': ['novalue'] }, {}, /--otlp-header "novalue": expected KEY=VALUE/);
    refuses({ 'otlp-header': ['=v'] }, {}, /expected KEY=VALUE/);
  });

  test('compression and timeout', () => {
    assert.equal(resolve({ 'otlp-compression': 'gzip' }).otlp.compression, 'gzip');
    assert.equal(resolve({ 'otlp-compression': 'none' }).otlp.compression, 'none');
    refuses({ 'otlp-compression': 'zstd' }, {}, /--otlp-compression must be gzip or none, got "zstd"/);
    assert.equal(resolve({ 'otlp-timeout': '250' }).otlp.timeoutMs, 250);
    refuses({ 'otlp-timeout': '0' }, {}, /--otlp-timeout must be a positive integer, got "0"/);
    refuses({ 'otlp-timeout': '1.5' }, {}, /--otlp-timeout/);
  });

  test('temporality: OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE (any case), the flag wins', () => {
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' }).otlp.temporality, 'delta');
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'Delta' }).otlp.temporality, 'delta');
    assert.equal(resolve({}, { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'LowMemory' }).otlp.temporality, 'lowmemory');
    assert.equal(resolve({ 'otlp-temporality': 'cumulative' }, { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta' }).otlp.temporality, 'cumulative');
    refuses(
      {},
      { OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'sometimes' },
      /OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: unknown temporality "sometimes"/,
    );
    refuses({ 'otlp-temporality': 'gauge' }, {}, /--otlp-temporality: unknown temporality "gauge"/);
  });
});

describe('intervals', () => {
  test('OTEL_METRIC_EXPORT_INTERVAL; --interval wins', () => {
    assert.equal(resolve({}, { OTEL_METRIC_EXPORT_INTERVAL: '5000' }).intervalMs, 5000);
    assert.equal(resolve({ interval: '1000' }, { OTEL_METRIC_EXPORT_INTERVAL: '5000' }).intervalMs, 1000);
    refuses({}, { OTEL_METRIC_EXPORT_INTERVAL: '5s' }, /OTEL_METRIC_EXPORT_INTERVAL must be a positive integer, got "5s"/);
    refuses({ interval: '0' }, {}, /--interval must be a positive integer, got "0"/);
  });

  test('OTEL_METRIC_EXPORT_TIMEOUT, never longer than the interval', () => {
    assert.equal(resolve({}, { OTEL_METRIC_EXPORT_TIMEOUT: '7000' }).exportTimeoutMs, 7000);
    assert.equal(resolve({ interval: '1000' }).exportTimeoutMs, 1000);
    assert.equal(resolve({ interval: '1000' }, { OTEL_METRIC_EXPORT_TIMEOUT: '400' }).exportTimeoutMs, 400);
    refuses({}, { OTEL_METRIC_EXPORT_TIMEOUT: '-5' }, /OTEL_METRIC_EXPORT_TIMEOUT/);
  });
});

test('a full set of flags overrides a full environment', () => {
  const env: Env = {
    OTEL_METRICS_EXPORTER: 'console',
    OTEL_EXPORTER_PROMETHEUS_HOST: '0.0.0.0',
    OTEL_EXPORTER_PROMETHEUS_PORT: '9100',
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    OTEL_METRIC_EXPORT_INTERVAL: '30000',
  };
  const c = resolve(
    {
      exporter: 'otlp,prometheus',
      'prometheus-host': '127.0.0.1',
      'prometheus-port': '9999',
      'prometheus-path': '/x',
      'no-unit-suffixes': true,
      'prometheus-final-hold': '30000',
      'otlp-endpoint': 'https://c:4318/v1/metrics',
      'otlp-protocol': 'http/protobuf',
      'otlp-header': ['a=1'],
      'otlp-compression': 'gzip',
      'otlp-timeout': '2000',
      'otlp-temporality': 'cumulative',
      interval: '10000',
    },
    env,
  );
  assert.deepEqual(c, {
    exporters: ['otlp', 'prometheus'],
    prometheus: { host: '127.0.0.1', port: 9999, path: '/x', unitSuffixes: false, finalHoldMs: 30_000 },
    otlp: {
      protocol: 'http/protobuf',
      endpoint: 'https://c:4318/v1/metrics',
      headers: { a: '1' },
      compression: 'gzip',
      timeoutMs: 2000,
      temporality: 'cumulative',
    },
    intervalMs: 10_000,
    exportTimeoutMs: 10_000,
  });
});

describe('issue 11: environment values checked like the flags; bounds on durations, hosts, paths, ports', () => {
  const otlp = { exporter: 'otlp' };

  test('(5) a bad OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT is refused naming the variable, not replaced by localhost', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'])
      for (const bad of ['collector:4318', 'http://collector:70000', 'abc'])
        refuses(otlp, { [name]: bad }, new RegExp(`^${name} "${bad}" is not an http\\(s\\) URL`));
    // Valid ones pass; the flag wins (the variables are then not read).
    assert.equal(resolve(otlp, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).otlp.endpoint, undefined);
    assert.equal(resolve({ ...otlp, 'otlp-endpoint': 'http://x:1/v1/metrics' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'abc' }).otlp.endpoint, 'http://x:1/v1/metrics');
    // Not read at all when no OTLP exporter runs.
    assert.deepEqual(resolve({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'abc' }).exporters, ['prometheus']);
  });

  test('(6) malformed OTEL_EXPORTER_OTLP_(METRICS_)HEADERS / TIMEOUT / COMPRESSION are refused naming the variable', () => {
    for (const pre of ['OTEL_EXPORTER_OTLP_', 'OTEL_EXPORTER_OTLP_METRICS_']) {
      refuses(otlp, { [`${pre}HEADERS`]: 'a=1,broken' }, new RegExp(`^${pre}HEADERS: entry "broken" is not key=value`));
      refuses(otlp, { [`${pre}HEADERS`]: 'a=%zz' }, /malformed percent-encoding/);
      refuses(otlp, { [`${pre}HEADERS`]: 'a=' }, /entry "a=" is not key=value/);
      refuses(otlp, { [`${pre}TIMEOUT`]: '10s' }, new RegExp(`^${pre}TIMEOUT must be a positive integer, got "10s"`));
      refuses(otlp, { [`${pre}TIMEOUT`]: '4294967296' }, new RegExp(`^${pre}TIMEOUT 4294967296 is longer than 2147483647 ms`));
      refuses(otlp, { [`${pre}COMPRESSION`]: 'zstd' }, new RegExp(`^${pre}COMPRESSION must be gzip or none, got "zstd"`));
    }
    // Well-formed values pass (blank entries are harmless).
    resolve(otlp, { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=abc%3D,x=y,', OTEL_EXPORTER_OTLP_TIMEOUT: '5000', OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' });
  });

  test('(6) one malformed OTEL_RESOURCE_ATTRIBUTES entry is refused naming it (the SDK would drop all of them)', () => {
    refuses({}, { OTEL_RESOURCE_ATTRIBUTES: 'team=a,broken,region=eu' }, /^OTEL_RESOURCE_ATTRIBUTES: entry "broken" is not key=value/);
    refuses({}, { OTEL_RESOURCE_ATTRIBUTES: 'a=b=c' }, /entry "a=b=c"/);
    refuses({}, { OTEL_RESOURCE_ATTRIBUTES: '=x' }, /entry "=x" has an empty key/);
    refuses({}, { OTEL_RESOURCE_ATTRIBUTES: 'a=%E0%A4%A' }, /malformed percent-encoding/);
    refuses({}, { OTEL_RESOURCE_ATTRIBUTES: `a=${'x'.repeat(256)}` }, /longer than 255/);
    resolve({}, { OTEL_RESOURCE_ATTRIBUTES: 'team=a, region = eu ,,k=v%2Cw' });
  });

  test('(8) a duration a timer cannot hold (≥ 2^31 ms) is refused, never a 1 ms timer', () => {
    refuses({ interval: '2147483648' }, {}, /^--interval 2147483648 is longer than 2147483647 ms \(24\.8 days\)/);
    refuses({}, { OTEL_METRIC_EXPORT_INTERVAL: '99999999999' }, /^OTEL_METRIC_EXPORT_INTERVAL 99999999999 is longer/);
    refuses({ interval: '1000' }, { OTEL_METRIC_EXPORT_TIMEOUT: '99999999999' }, /^OTEL_METRIC_EXPORT_TIMEOUT 99999999999 is longer/);
    refuses({ 'otlp-timeout': '2147483648' }, {}, /^--otlp-timeout 2147483648 is longer/);
    refuses({ 'prometheus-final-hold': '1e12' }, {}, /--prometheus-final-hold must be a non-negative integer, got "1e12"/);
    refuses({ 'prometheus-final-hold': '2147483648' }, {}, /^--prometheus-final-hold 2147483648 is longer/);
    assert.equal(resolve({ interval: '2147483647' }).intervalMs, 2147483647);
  });

  test('(13) an empty --prometheus-host, a path that can never match, ports that are not plain digits', () => {
    refuses({ 'prometheus-host': '' }, {}, /^--prometheus-host must name a host or address/);
    refuses({ 'prometheus-host': ' ' }, {}, /--prometheus-host/);
    for (const p of ['/metrics?x=1', '/met rics', '/metrics#a', 'metrics', '', '/a\tb'])
      refuses({ 'prometheus-path': p }, {}, /^--prometheus-path must be an absolute path without \?, # or blanks/);
    assert.equal(resolve({ 'prometheus-path': '/custom/metrics' }).prometheus.path, '/custom/metrics');
    for (const port of ['', '0x10', '1e3', '+80', '-0', ' 80', '80.0', '065536'])
      refuses({ 'prometheus-port': port }, {}, /^Prometheus port must be 0-65535, got/);
    for (const v of ['0x10', '1e3', '+5', ' 5']) refuses({ interval: v }, {}, /^--interval must be a positive integer/);
    assert.equal(resolve({ 'prometheus-port': '0080' }).prometheus.port, 80);
  });
});
