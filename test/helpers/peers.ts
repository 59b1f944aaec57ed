/**
 * Real peers for the tests: promtool, Prometheus and VictoriaMetrics, unpacked under `.peers/`
 * by `scripts/install-peers.sh` (the directory can be moved with the PEERS_DIR variable).
 *
 * Every server listens on 127.0.0.1 on a free port, keeps its data in its own temporary
 * directory, and is killed (SIGTERM, then SIGKILL after 5 s) with that directory removed by
 * `stop()`, which may be called any number of times. Servers still running when the test process
 * exits are killed then too. Use `after(() => peer.stop())`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PEERS_DIR = process.env.PEERS_DIR ? path.resolve(process.env.PEERS_DIR) : path.join(REPO_ROOT, '.peers');

const INSTALL_HINT = 'run `bash scripts/install-peers.sh` (as root) first';

/** Absolute path of a peer binary in `.peers/bin`; throws a clear Error when it is missing. */
export function peerBin(name: string): string {
  const p = path.join(PEERS_DIR, 'bin', name);
  try {
    accessSync(p, fsConstants.X_OK);
  } catch {
    throw new Error(`peer binary '${name}' is missing (no executable ${p}): ${INSTALL_HINT}`);
  }
  return p;
}

/** The directory holding `opentelemetry/proto/...` (Debian's opentelemetry-proto .proto files). */
export function peerProtoDir(): string {
  const dir = path.join(PEERS_DIR, 'proto');
  const probe = path.join(dir, 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto');
  try {
    accessSync(probe, fsConstants.R_OK);
  } catch {
    throw new Error(`the OTLP .proto files are missing (no ${probe}): ${INSTALL_HINT}`);
  }
  return dir;
}

/** A port that was free a moment ago on 127.0.0.1 (bound to port 0, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('freePort: no TCP address'));
        return;
      }
      const port = addr.port;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

// ------------------------------------------------------------------ query results

/** One sample of an instant-query result: labels and [unix seconds, value as text]. */
export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}
export type PromVector = PromSample[];

/** The value of a sample as a number (NaN, +Inf as JavaScript numbers). */
export function sampleValue(s: PromSample): number {
  return Number(s.value[1]);
}

interface ApiResponse {
  status: 'success' | 'error';
  data?: { resultType: string; result: unknown };
  errorType?: string;
  error?: string;
}

async function instantQuery(baseUrl: string, promql: string): Promise<PromVector> {
  const res = await fetch(`${baseUrl}/api/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ query: promql }).toString(),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let body: ApiResponse;
  try {
    body = JSON.parse(text) as ApiResponse;
  } catch {
    throw new Error(`query ${JSON.stringify(promql)} at ${baseUrl}: HTTP ${res.status}, not JSON: ${text.slice(0, 500)}`);
  }
  if (body.status !== 'success' || body.data === undefined) {
    throw new Error(`query ${JSON.stringify(promql)} at ${baseUrl}: ${body.errorType ?? `HTTP ${res.status}`}: ${body.error ?? text.slice(0, 500)}`);
  }
  const { resultType, result } = body.data;
  if (resultType === 'vector') return result as PromVector;
  if (resultType === 'scalar') return [{ metric: {}, value: result as [number, string] }];
  throw new Error(`query ${JSON.stringify(promql)} at ${baseUrl}: resultType ${resultType}, want an instant vector or scalar`);
}

async function pollQuery(
  what: string,
  query: (promql: string) => Promise<PromVector>,
  promql: string,
  predicate: (v: PromVector) => boolean,
  timeoutMs: number,
  beforeEach: (() => Promise<void>) | undefined,
  diagnose: (() => Promise<string>) | undefined,
): Promise<PromVector> {
  const deadline = Date.now() + timeoutMs;
  let last: PromVector | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      if (beforeEach) await beforeEach();
      last = await query(promql);
      lastErr = undefined;
      if (predicate(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(250);
  }
  let extra = '';
  if (diagnose) {
    try {
      extra = `\n${await diagnose()}`;
    } catch (err) {
      extra = `\n(diagnosis failed: ${String(err)})`;
    }
  }
  const got = lastErr !== undefined ? `last error: ${String(lastErr)}` : `last result: ${JSON.stringify(last)}`;
  throw new Error(`${what}: ${JSON.stringify(promql)} did not satisfy the predicate within ${timeoutMs} ms; ${got}${extra}`);
}

// ------------------------------------------------------------------ processes

const live = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const p of live) {
      try {
        p.child.kill('SIGKILL');
      } catch {
        /* gone */
      }
      try {
        rmSync(p.dir, { recursive: true, force: true });
      } catch {
        /* best effort */
      }
    }
  });
}

/** The last `limit` characters a process wrote (stdout and stderr), for error messages. */
class OutputTail {
  private text = '';
  constructor(private readonly limit = 16_000) {}
  push(chunk: Buffer | string): void {
    this.text += chunk.toString();
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }
  toString(): string {
    return this.text.slice(-this.limit);
  }
}

interface Managed {
  child: ChildProcess;
  output: OutputTail;
  exited: Promise<void>;
  stop(): Promise<void>;
}

function launch(bin: string, args: string[], dir: string): Managed {
  installExitHook();
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = new OutputTail();
  child.stdout?.on('data', (c: Buffer) => output.push(c));
  child.stderr?.on('data', (c: Buffer) => output.push(c));
  const entry = { child, dir };
  live.add(entry);
  let exitedFlag = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exitedFlag = true;
      resolve();
    });
    child.once('error', (err) => {
      output.push(`\nspawn error: ${String(err)}\n`);
      exitedFlag = true;
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (!exitedFlag && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killed = await Promise.race([exited.then(() => true), sleep(5_000, undefined, { ref: false }).then(() => false)]);
        if (!killed) {
          child.kill('SIGKILL');
          await Promise.race([exited, sleep(5_000, undefined, { ref: false })]);
        }
      }
      live.delete(entry);
      await rm(dir, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { child, output, exited, stop };
}

/** Polls `url` until it answers 2xx; rejects early when the process exits. */
async function waitReady(name: string, m: Managed, url: string, timeoutMs: number): Promise<void> {
  let dead = false;
  void m.exited.then(() => {
    dead = true;
  });
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (dead) {
      throw new Error(`${name} exited (code ${m.child.exitCode}, signal ${m.child.signalCode}) before it was ready; its output:\n${m.output}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await res.text();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String(err);
    }
    await sleep(100);
  }
  throw new Error(`${name} was not ready at ${url} within ${timeoutMs} ms (last: ${last}); its output:\n${m.output}`);
}

/** Starts a server on a free port, trying again with a new port when the first one got taken. */
async function startServer(
  name: string,
  bin: string,
  prefix: string,
  prepare: (dir: string, port: number) => Promise<string[]>,
  readyPath: string,
): Promise<{ m: Managed; url: string; dir: string }> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await mkdtemp(path.join(tmpdir(), prefix));
    const port = await freePort();
    let m: Managed | undefined;
    try {
      const args = await prepare(dir, port);
      m = launch(bin, args, dir);
      const url = `http://127.0.0.1:${port}`;
      await waitReady(name, m, `${url}${readyPath}`, 30_000);
      return { m, url, dir };
    } catch (err) {
      lastErr = err;
      if (m) await m.stop();
      else await rm(dir, { recursive: true, force: true });
      if (!/address already in use/i.test(String(err))) throw err;
    }
  }
  throw lastErr;
}

// ------------------------------------------------------------------ promtool

/** `promtool check metrics` with `text` on stdin: 0 clean, 1 parse error, 3 lint problems. */
export function promtoolCheckMetrics(text: string): Promise<{ code: number; output: string }> {
  const bin = peerBin('promtool');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.stdin.on('error', () => {
      /* promtool may exit before reading everything (EPIPE); its exit code tells */
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === null) reject(new Error(`promtool check metrics was killed by ${signal}; output:\n${output}`));
      else resolve({ code, output });
    });
    child.stdin.end(text);
  });
}

// ------------------------------------------------------------------ Prometheus

export interface PrometheusOptions {
  /** `host:port` (path /metrics) or full URLs such as `http://127.0.0.1:9464/metrics`. */
  scrapeTargets: string[];
  /** Scrape (and evaluation) interval in seconds; default 1. The timeout is the same. */
  scrapeIntervalS?: number;
  /** `job` label of the targets; default `test`. Targets with another scheme/path than the
   * first get jobs `<jobName>_1`, `<jobName>_2`, ... */
  jobName?: string;
  /** More command-line flags for prometheus. */
  extraArgs?: string[];
}

export interface PrometheusPeer {
  /** `http://127.0.0.1:<port>`; remote write is accepted at `${url}/api/v1/write`. */
  url: string;
  /** The rendered prometheus.yml. */
  config: string;
  /** An instant query at now. */
  query(promql: string): Promise<PromVector>;
  /** Polls the query until `predicate` (default: non-empty) holds; throws with the targets'
   * state (last scrape errors) after `timeoutMs` (default 20 s). */
  waitForSeries(promql: string, predicate?: (v: PromVector) => boolean, timeoutMs?: number): Promise<PromVector>;
  /** /api/v1/targets, active targets: labels, health, lastError, lastScrape (when the last scrape began, RFC 3339). */
  targets(): Promise<Array<{ labels: Record<string, string>; health: string; lastError: string; lastScrape: string; scrapeUrl: string }>>;
  /** What prometheus has written so far (stdout + stderr, the tail). */
  output(): string;
  stop(): Promise<void>;
}

function renderPrometheusConfig(targets: string[], intervalS: number, jobName: string): string {
  const groups = new Map<string, { scheme: string; metricsPath: string; hosts: string[] }>();
  for (const t of targets) {
    let scheme = 'http';
    let metricsPath = '/metrics';
    let host = t;
    if (t.includes('://')) {
      const u = new URL(t);
      scheme = u.protocol.replace(/:$/, '');
      metricsPath = u.pathname === '' ? '/metrics' : u.pathname;
      host = u.host;
    }
    const key = `${scheme} ${metricsPath}`;
    let g = groups.get(key);
    if (!g) {
      g = { scheme, metricsPath, hosts: [] };
      groups.set(key, g);
    }
    g.hosts.push(host);
  }
  const lines = ['global:', `  scrape_interval: ${intervalS}s`, `  scrape_timeout: ${intervalS}s`, `  evaluation_interval: ${intervalS}s`, 'scrape_configs:'];
  let i = 0;
  for (const g of groups.values()) {
    lines.push(
      `  - job_name: ${JSON.stringify(i === 0 ? jobName : `${jobName}_${i}`)}`,
      `    scheme: ${g.scheme}`,
      `    metrics_path: ${JSON.stringify(g.metricsPath)}`,
      '    static_configs:',
      `      - targets: [${g.hosts.map((h) => JSON.stringify(h)).join(', ')}]`,
    );
    i++;
  }
  if (groups.size === 0) lines[lines.length - 1] = 'scrape_configs: []';
  return `${lines.join('\n')}\n`;
}

/**
 * Prometheus 2.53 on 127.0.0.1:<free port>, scraping `scrapeTargets` every `scrapeIntervalS`
 * (default 1 s), with the remote-write receiver on. Resolves once /-/ready answers. The first
 * scrape comes ~5 s after start (Prometheus's discovery throttle): wait with `waitForSeries`.
 */
export async function startPrometheus(opts: PrometheusOptions): Promise<PrometheusPeer> {
  const bin = peerBin('prometheus');
  const intervalS = opts.scrapeIntervalS ?? 1;
  const config = renderPrometheusConfig(opts.scrapeTargets, intervalS, opts.jobName ?? 'test');
  const { m, url } = await startServer(
    'prometheus',
    bin,
    'otel-cgroup-prometheus-',
    async (dir, port) => {
      await writeFile(path.join(dir, 'prometheus.yml'), config);
      return [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-remote-write-receiver',
        '--storage.tsdb.retention.time=1d',
        ...(opts.extraArgs ?? []),
      ];
    },
    '/-/ready',
  );
  const query = (promql: string): Promise<PromVector> => instantQuery(url, promql);
  const targets: PrometheusPeer['targets'] = async () => {
    const res = await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as {
      data?: { activeTargets?: Array<{ labels: Record<string, string>; health: string; lastError: string; lastScrape: string; scrapeUrl: string }> };
    };
    return body.data?.activeTargets ?? [];
  };
  return {
    url,
    config,
    query,
    waitForSeries: (promql, predicate = (v) => v.length > 0, timeoutMs = 20_000) =>
      pollQuery('prometheus', query, promql, predicate, timeoutMs, undefined, async () => {
        const t = await targets();
        return `targets: ${JSON.stringify(t.map((x) => ({ url: x.scrapeUrl, health: x.health, lastError: x.lastError })))}`;
      }),
    targets,
    output: () => m.output.toString(),
    stop: () => m.stop(),
  };
}

// ------------------------------------------------------------------ VictoriaMetrics

export interface VictoriaMetricsOptions {
  /** More flags, e.g. `-opentelemetry.usePrometheusNaming`. */
  extraArgs?: string[];
}

export interface VictoriaMetricsPeer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** OTLP/HTTP metrics endpoint (protobuf only; delta sums are dropped with a 200). */
  otlpUrl: string;
  /** An instant query at now (after nothing: call `flush()` first for just-written data). */
  query(promql: string): Promise<PromVector>;
  /** Polls (flushing the in-memory buffers before each query) until `predicate` (default:
   * non-empty) holds; throws after `timeoutMs` (default 20 s). */
  waitFor(promql: string, predicate?: (v: PromVector) => boolean, timeoutMs?: number): Promise<PromVector>;
  /** POSTs Prometheus text exposition to /api/v1/import/prometheus (samples without a timestamp
   * get "now"). */
  importPrometheus(text: string): Promise<void>;
  /** /internal/force_flush: makes what was just ingested searchable. */
  flush(): Promise<void>;
  /** Series names known now (/api/v1/label/__name__/values). */
  metricNames(): Promise<string[]>;
  output(): string;
  stop(): Promise<void>;
}

/**
 * VictoriaMetrics 1.112 (single node) on 127.0.0.1:<free port>, data in a temporary directory,
 * `-search.latencyOffset=0s` and the response cache off so fresh samples are visible at once.
 */
export async function startVictoriaMetrics(opts: VictoriaMetricsOptions = {}): Promise<VictoriaMetricsPeer> {
  const bin = peerBin('victoria-metrics');
  const { m, url } = await startServer(
    'victoria-metrics',
    bin,
    'otel-cgroup-vm-',
    async (dir, port) => [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${path.join(dir, 'data')}`,
      '-retentionPeriod=1d',
      '-search.latencyOffset=0s',
      '-search.disableCache',
      '-loggerLevel=WARN',
      ...(opts.extraArgs ?? []),
    ],
    '/health',
  );
  const query = (promql: string): Promise<PromVector> => instantQuery(url, promql);
  const flush = async (): Promise<void> => {
    const res = await fetch(`${url}/internal/force_flush`, { signal: AbortSignal.timeout(10_000) });
    await res.text();
    if (!res.ok) throw new Error(`victoria-metrics /internal/force_flush: HTTP ${res.status}`);
  };
  const metricNames = async (): Promise<string[]> => {
    const res = await fetch(`${url}/api/v1/label/__name__/values`, { signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { data?: string[] };
    return body.data ?? [];
  };
  return {
    url,
    otlpUrl: `${url}/opentelemetry/v1/metrics`,
    query,
    waitFor: (promql, predicate = (v) => v.length > 0, timeoutMs = 20_000) =>
      pollQuery('victoria-metrics', query, promql, predicate, timeoutMs, flush, async () => `metric names: ${JSON.stringify(await metricNames())}`),
    importPrometheus: async (text: string) => {
      const res = await fetch(`${url}/api/v1/import/prometheus`, { method: 'POST', body: text, signal: AbortSignal.timeout(10_000) });
      const body = await res.text();
      if (!res.ok) throw new Error(`victoria-metrics /api/v1/import/prometheus: HTTP ${res.status}: ${body}`);
    },
    flush,
    metricNames,
    output: () => m.output.toString(),
    stop: () => m.stop(),
  };
}
