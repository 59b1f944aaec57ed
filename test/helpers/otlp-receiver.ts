/**
 * A small OTLP/HTTP metrics receiver for the tests: a node:http server that records every
 * request and decodes its body as an `ExportMetricsServiceRequest` with protobufjs and the
 * canonical .proto files (Debian's opentelemetry-proto, unpacked in `.peers/proto` by
 * scripts/install-peers.sh). Both encodings decode to the same plain object:
 * `application/x-protobuf` (binary) and `application/json` (OTLP/JSON: lowerCamelCase keys,
 * integer enums, 64-bit integers as strings; an unknown key is a decode error). A body with
 * `Content-Encoding: gzip` is gunzipped first.
 *
 * It can be told to answer 500 (`mode = 'error'`), 429 (`mode = 'throttle'`) or to never answer (`mode = 'hang'`); hung
 * requests are recorded too and their sockets destroyed by `close()`.
 *
 *   const rx = await OtlpReceiver.start();
 *   after(() => rx.close());
 *   // agent: --exporter otlp --otlp-endpoint ${rx.url}
 *   const req = await rx.waitFor((r) => r.ok && pointsOf(r.body, 'container.cpu.time').length > 0, 10_000, 'cpu points');
 *
 * Also here, shared by the test/export tests: AgentProcess, the built CLI as a child process
 * (`spawn(process.execPath, ['dist/cli/main.js', ...])`, OTEL_* variables of the test process
 * removed) with its stderr, exit and VmRSS at hand; stopAllAgents() for after().
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';
import { peerProtoDir } from './peers.ts';

// ------------------------------------------------------------------ the decoded message

/** OTLP AnyValue as decoded (one field set). */
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}
export interface KeyValue {
  key: string;
  value?: AnyValue;
}
export interface NumberDataPoint {
  attributes?: KeyValue[];
  startTimeUnixNano?: string;
  timeUnixNano?: string;
  asDouble?: number;
  asInt?: string;
  flags?: number;
}
export interface OtlpMetric {
  name: string;
  description?: string;
  unit?: string;
  gauge?: { dataPoints?: NumberDataPoint[] };
  sum?: { dataPoints?: NumberDataPoint[]; aggregationTemporality?: number; isMonotonic?: boolean };
  histogram?: unknown;
  exponentialHistogram?: unknown;
  summary?: unknown;
}
export interface ExportMetricsServiceRequest {
  resourceMetrics?: Array<{
    resource?: { attributes?: KeyValue[]; droppedAttributesCount?: number };
    scopeMetrics?: Array<{ scope?: { name?: string; version?: string }; metrics?: OtlpMetric[]; schemaUrl?: string }>;
    schemaUrl?: string;
  }>;
}

/** AggregationTemporality values of metrics.proto. */
export const AGGREGATION_TEMPORALITY_DELTA = 1;
export const AGGREGATION_TEMPORALITY_CUMULATIVE = 2;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: false, arrays: false, objects: false, oneofs: false };

let requestType: protobuf.Type | undefined;
let responseType: protobuf.Type | undefined;

/** ExportMetricsServiceRequest/-Response from the canonical .proto files (loaded once). */
export function otlpTypes(): { request: protobuf.Type; response: protobuf.Type } {
  if (!requestType || !responseType) {
    const dir = peerProtoDir();
    const root = new protobuf.Root();
    // The files import each other as "opentelemetry/proto/...": resolve against the include dir.
    root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(dir, target));
    root.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto', { keepCase: false });
    root.resolveAll();
    requestType = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
    responseType = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');
  }
  return { request: requestType, response: responseType };
}

/** Decodes a binary (application/x-protobuf) ExportMetricsServiceRequest. */
export function decodeProtobuf(body: Uint8Array): ExportMetricsServiceRequest {
  const { request } = otlpTypes();
  return request.toObject(request.decode(body), TO_OBJECT) as ExportMetricsServiceRequest;
}

/** Every key of an OTLP/JSON object must be a (lowerCamelCase) field of its message type. */
function checkJsonKeys(type: protobuf.Type, obj: unknown, where: string): void {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj))
    throw new Error(`${where}: expected an object for ${type.name}, got ${JSON.stringify(obj)}`);
  for (const [key, value] of Object.entries(obj as Record<string, unknown>)) {
    const field = type.fields[key];
    if (!field) throw new Error(`${where}: ${type.name} has no field ${JSON.stringify(key)} (OTLP/JSON keys are lowerCamelCase field names)`);
    field.resolve();
    if (field.resolvedType instanceof protobuf.Enum) {
      const values = field.repeated ? (value as unknown[]) : [value];
      for (const v of values) if (typeof v !== 'number') throw new Error(`${where}.${key}: OTLP/JSON enums are integers, got ${JSON.stringify(v)}`);
    } else if (field.resolvedType instanceof protobuf.Type) {
      const values = field.repeated ? (value as unknown[]) : [value];
      if (field.repeated && !Array.isArray(value)) throw new Error(`${where}.${key}: expected an array`);
      for (const [i, v] of values.entries()) checkJsonKeys(field.resolvedType as protobuf.Type, v, `${where}.${key}${field.repeated ? `[${i}]` : ''}`);
    }
  }
}

/** Decodes an OTLP/JSON ExportMetricsServiceRequest to the same shape as decodeProtobuf. */
export function decodeJson(body: Uint8Array | string): ExportMetricsServiceRequest {
  const { request } = otlpTypes();
  const text = typeof body === 'string' ? body : new TextDecoder('utf-8', { fatal: true }).decode(body);
  const json: unknown = JSON.parse(text);
  checkJsonKeys(request, json, 'request');
  const err = request.verify(request.fromObject(json as Record<string, unknown>));
  if (err) throw new Error(`request: ${err}`);
  return request.toObject(request.fromObject(json as Record<string, unknown>), TO_OBJECT) as ExportMetricsServiceRequest;
}

// ------------------------------------------------------------------ reading the decoded message

export type AttrValue = string | number | boolean | AttrValue[];

function anyValue(v: AnyValue | undefined): AttrValue {
  if (!v) return '';
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  return JSON.stringify(v);
}

/** KeyValue list → plain record. */
export function attributesOf(kvs: KeyValue[] | undefined): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

/** One number point, flattened. */
export interface Point {
  metric: string;
  unit: string;
  kind: 'sum' | 'gauge';
  /** Sums only: AGGREGATION_TEMPORALITY_DELTA (1) or _CUMULATIVE (2). */
  temporality?: number;
  isMonotonic?: boolean;
  /** 'int' (asInt) or 'double' (asDouble). */
  valueType: 'int' | 'double';
  value: number;
  attributes: Record<string, AttrValue>;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  resource: Record<string, AttrValue>;
  scope: string;
}

/** Every number point of the request (of metric `name` if given). Histograms and summaries fail. */
export function pointsOf(req: ExportMetricsServiceRequest, name?: string): Point[] {
  const out: Point[] = [];
  for (const rm of req.resourceMetrics ?? []) {
    const resource = attributesOf(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        if (name !== undefined && m.name !== name) continue;
        assert.ok(!m.histogram && !m.exponentialHistogram && !m.summary, `${m.name}: unexpected histogram/summary data`);
        const kind = m.sum ? 'sum' : 'gauge';
        const data = m.sum ?? m.gauge;
        assert.ok(data, `${m.name} has neither sum nor gauge data`);
        for (const p of data.dataPoints ?? []) {
          const isInt = p.asInt !== undefined;
          out.push({
            metric: m.name,
            unit: m.unit ?? '',
            kind,
            ...(m.sum ? { temporality: m.sum.aggregationTemporality ?? 0, isMonotonic: m.sum.isMonotonic ?? false } : {}),
            valueType: isInt ? 'int' : 'double',
            value: isInt ? Number(p.asInt) : (p.asDouble ?? 0),
            attributes: attributesOf(p.attributes),
            startTimeUnixNano: BigInt(p.startTimeUnixNano ?? '0'),
            timeUnixNano: BigInt(p.timeUnixNano ?? '0'),
            resource,
            scope: sm.scope?.name ?? '',
          });
        }
      }
    }
  }
  return out;
}

/** Points of `name` whose attributes include every entry of `attrs`. */
export function pointsWith(req: ExportMetricsServiceRequest, name: string, attrs: Record<string, AttrValue>): Point[] {
  return pointsOf(req, name).filter((p) => Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
}

/** The one value of `name` with `attrs` (fails on none or several). */
export function pointValue(req: ExportMetricsServiceRequest, name: string, attrs: Record<string, AttrValue> = {}): number {
  const ps = pointsWith(req, name, attrs);
  assert.equal(ps.length, 1, `${ps.length} points of ${name} ${JSON.stringify(attrs)}; metrics: ${metricNames(req).join(', ')}`);
  return (ps[0] as Point).value;
}

/** The metric names in the request, in order. */
export function metricNames(req: ExportMetricsServiceRequest): string[] {
  return (req.resourceMetrics ?? []).flatMap((rm) => (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).map((m) => m.name)));
}

/** The resource attributes of the (single) ResourceMetrics. */
export function resourceOf(req: ExportMetricsServiceRequest): Record<string, AttrValue> {
  assert.equal(req.resourceMetrics?.length, 1, 'one ResourceMetrics per request');
  return attributesOf(req.resourceMetrics?.[0]?.resource?.attributes);
}

// ------------------------------------------------------------------ the server

/** How the receiver answers: 200, 500, 429 (`throttle`), or never. */
export type ReceiverMode = 'ok' | 'error' | 'throttle' | 'hang';

export interface ReceivedRequest {
  /** 1, 2, ... in arrival order. */
  seq: number;
  /** Date.now() when the body was complete. */
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  contentType: string;
  contentEncoding: string | undefined;
  encoding: 'protobuf' | 'json' | 'unknown';
  /** Bytes on the wire, and after gunzip. */
  wireBytes: number;
  bodyBytes: number;
  /** The decoded request (empty when decoding failed: see decodeError). */
  body: ExportMetricsServiceRequest;
  decodeError?: string;
  /** What the receiver answered: 200, 400 (undecodable), 404, 429, 500, or 'hang'. */
  answer: number | 'hang';
  /** Answered 200 with a decoded body. */
  ok: boolean;
}

export interface ReceiverOptions {
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** The metrics path; default /v1/metrics. */
  path?: string;
  mode?: ReceiverMode;
}

export class OtlpReceiver {
  /** How the next requests are answered; may be changed at any time. */
  mode: ReceiverMode;
  readonly requests: ReceivedRequest[] = [];
  /** `http://HOST:PORT/v1/metrics`. */
  readonly url: string;
  readonly port: number;
  private readonly sockets = new Set<Socket>();
  private readonly waiters = new Set<() => void>();

  private constructor(
    private readonly server: http.Server,
    readonly metricsPath: string,
    mode: ReceiverMode,
  ) {
    this.mode = mode;
    const addr = server.address() as AddressInfo;
    this.port = addr.port;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.url = `http://${host}:${addr.port}${metricsPath}`;
  }

  static async start(options: ReceiverOptions = {}): Promise<OtlpReceiver> {
    otlpTypes(); // fail here, loudly, when the .proto files are missing
    const metricsPath = options.path ?? '/v1/metrics';
    let self: OtlpReceiver | undefined;
    const server = http.createServer((req, res) => self?.handle(req, res));
    server.on('connection', (s: Socket) => {
      self?.sockets.add(s);
      s.once('close', () => self?.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    self = new OtlpReceiver(server, metricsPath, options.mode ?? 'ok');
    return self;
  }

  /** Requests answered 200 with a decoded body. */
  get accepted(): ReceivedRequest[] {
    return this.requests.filter((r) => r.ok);
  }

  /** The last accepted request (fails when there is none). */
  last(): ReceivedRequest {
    const a = this.accepted;
    assert.ok(a.length > 0, 'the receiver has accepted no request');
    return a[a.length - 1] as ReceivedRequest;
  }

  /** Forgets the requests recorded so far. */
  clear(): void {
    this.requests.length = 0;
  }

  /** Resolves with the first recorded request (from index `from`) that satisfies `pred`. */
  async waitFor(pred: (r: ReceivedRequest) => boolean, timeoutMs: number, what: string, from = 0): Promise<ReceivedRequest> {
    const find = (): ReceivedRequest | undefined => this.requests.slice(from).find(pred);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = find();
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.requests.map((r) => `#${r.seq} ${r.answer} ${r.encoding}${r.decodeError ? ` (${r.decodeError})` : ''}`).join('; ');
        assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; requests so far: ${seen || 'none'}`);
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(t);
          this.waiters.delete(wake);
          resolve();
        };
        const t = setTimeout(wake, Math.min(left, 250));
        this.waiters.add(wake);
      });
    }
  }

  /** Waits for `n` more requests of any kind after the ones recorded now. */
  async waitForCount(n: number, timeoutMs: number, what = `${n} more request(s)`): Promise<ReceivedRequest> {
    const target = this.requests.length + n;
    return this.waitFor((r) => r.seq >= target, timeoutMs, what);
  }

  /** Closes the server and destroys every connection (hung requests included). */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const w of [...this.waiters]) w();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => {});
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      const urlPath = (req.url ?? '/').split('?')[0] ?? '/';
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
      const contentEncoding = req.headers['content-encoding'];
      const encoding = contentType === 'application/x-protobuf' ? 'protobuf' : contentType === 'application/json' ? 'json' : 'unknown';
      const rec: ReceivedRequest = {
        seq: this.requests.length + 1,
        at: Date.now(),
        method: req.method ?? '',
        path: urlPath,
        headers: req.headers,
        contentType,
        contentEncoding,
        encoding,
        wireBytes: wire.length,
        bodyBytes: wire.length,
        body: {},
        answer: 200,
        ok: false,
      };
      try {
        if (req.method !== 'POST' || urlPath !== this.metricsPath) throw new Error(`${req.method} ${urlPath}: metrics are POSTed to ${this.metricsPath}`);
        let body: Buffer = wire;
        if (contentEncoding === 'gzip') body = gunzipSync(wire);
        else if (contentEncoding !== undefined && contentEncoding !== 'identity') throw new Error(`unsupported Content-Encoding ${contentEncoding}`);
        rec.bodyBytes = body.length;
        if (encoding === 'protobuf') rec.body = decodeProtobuf(body);
        else if (encoding === 'json') rec.body = decodeJson(body);
        else throw new Error(`unsupported Content-Type ${JSON.stringify(req.headers['content-type'])}`);
      } catch (err) {
        rec.decodeError = err instanceof Error ? err.message : String(err);
        rec.answer = rec.path === this.metricsPath ? 400 : 404;
      }
      if (rec.decodeError === undefined) rec.answer = this.mode === 'hang' ? 'hang' : this.mode === 'error' ? 500 : this.mode === 'throttle' ? 429 : 200;
      rec.ok = rec.answer === 200;
      this.requests.push(rec);
      for (const w of [...this.waiters]) w();
      this.answer(rec, res);
    });
  }

  private answer(rec: ReceivedRequest, res: http.ServerResponse): void {
    if (rec.answer === 'hang') return; // never answered; close() destroys the socket
    if (rec.answer !== 200) {
      res.writeHead(rec.answer, { 'content-type': 'text/plain' });
      res.end(rec.decodeError ?? 'receiver told to fail\n');
      return;
    }
    // An empty ExportMetricsServiceResponse in the request's encoding.
    if (rec.encoding === 'json') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    } else {
      const { response } = otlpTypes();
      const bytes = response.encode(response.create({})).finish();
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end(Buffer.from(bytes));
    }
  }
}

// ------------------------------------------------------------------ the agent under test
// (the CLI as a child process; shared by the export and agent tests)

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The built CLI (`npm run build`). */
export const CLI = path.join(REPO, 'dist/cli/main.js');

const agents = new Set<AgentProcess>();
process.on('exit', () => {
  for (const a of agents) a.child.kill('SIGKILL');
});

/** The environment for a child: this process's, without any OTEL_* variable, plus `env`. */
export function childEnv(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_')) out[k] = v;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** The agent's flags for a Prometheus endpoint on 127.0.0.1:`port` beside OTLP pushes to `url` every `intervalMs`. */
export function promAndOtlpFlags(port: number, url: string, intervalMs: number): string[] {
  return [
    '--exporter',
    'prometheus,otlp',
    '--prometheus-host',
    '127.0.0.1',
    '--prometheus-port',
    String(port),
    '--otlp-endpoint',
    url,
    '--interval',
    String(intervalMs),
  ];
}

/** `node dist/cli/main.js ARGS` with its stdout/stderr captured; `stop()` (SIGKILL) in after(). */
export class AgentProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly listeners = new Set<() => void>();

  /** `nodeArgs`: options for node itself (`--trace-gc`), before the script. */
  constructor(
    readonly args: string[],
    env: Record<string, string | undefined> = {},
    nodeArgs: readonly string[] = [],
  ) {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    this.child = spawn(process.execPath, [...nodeArgs, CLI, ...args], { cwd: REPO, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    agents.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.wake();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        agents.delete(this);
        // Let the pipes drain before the result is looked at.
        setImmediate(() => {
          resolve({ code, signal });
          this.wake();
        });
      });
    });
  }

  get pid(): number {
    assert.ok(this.child.pid !== undefined, 'the agent did not start');
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** stderr as lines (without the empty last one). */
  stderrLines(): string[] {
    return this.stderr.split('\n').filter((l) => l !== '');
  }

  private wake(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Waits until stderr matches `re`; fails when the agent exits first or after `timeoutMs`. */
  async waitForStderr(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stderr.match(re);
      if (m) return m;
      if (!this.running)
        assert.fail(`the agent exited (code ${this.child.exitCode}, signal ${this.child.signalCode}) before stderr matched ${re}; stderr:\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`stderr did not match ${re} within ${timeoutMs} ms; stderr:\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.listeners.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 200));
        this.listeners.add(done);
      });
    }
  }

  /** The Prometheus URL the agent announced (`Prometheus metrics at URL`). */
  async prometheusUrl(timeoutMs = 15_000): Promise<string> {
    const m = await this.waitForStderr(/Prometheus metrics at (\S+)/, timeoutMs);
    return m[1] as string;
  }

  /** Waits for the exit; fails after `timeoutMs` (the agent is then killed). */
  async waitForExit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const r = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (r === 'timeout') {
      this.child.kill('SIGKILL');
      assert.fail(`the agent did not exit within ${timeoutMs} ms; stderr:\n${this.stderr}`);
    }
    return r;
  }

  /** Resident set size now, in kB (/proc/PID/status VmRSS). */
  rssKb(): number {
    const status = fs.readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = status.match(/^VmRSS:\s+(\d+) kB$/m);
    assert.ok(m, `no VmRSS in /proc/${this.pid}/status`);
    return Number(m[1]);
  }

  /** Kills the agent (SIGKILL) if it still runs and waits for the exit. Idempotent. */
  async stop(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Kills every agent still running (for after()). */
export async function stopAllAgents(): Promise<void> {
  await Promise.all([...agents].map((a) => a.stop()));
}

/** GET `url` → status and body text (5 s timeout). */
export async function httpGet(url: string): Promise<{ status: number; body: string; contentType: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') ?? '' };
}
