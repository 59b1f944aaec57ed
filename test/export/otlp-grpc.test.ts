/**
 * OTLP over gRPC (`--otlp-protocol grpc`, OTEL_EXPORTER_OTLP_(METRICS_)PROTOCOL=grpc): the agent
 * pushes to a real gRPC OTLP receiver started here — @grpc/grpc-js serving the
 * `opentelemetry.proto.collector.metrics.v1.MetricsService` that @grpc/proto-loader reads from
 * the official .proto files (Debian's opentelemetry-proto, `.peers/proto`), each request decoded
 * point by point with the same canonical types as the OTLP/HTTP receiver. Values of the v2
 * fixture and of a real v1 cgroup, headers as gRPC metadata, TLS, a collector that is down
 * (logged, counted in cgroup_metrics.export.failures, then recovered), and the SIGTERM flush.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { sysfsDeviceNames } from '../../src/cgroup/devices.ts';
import {
  AGGREGATION_TEMPORALITY_CUMULATIVE,
  AgentProcess,
  decodeProtobuf,
  httpGet,
  otlpTypes,
  pointValue,
  pointsOf,
  resourceOf,
  stopAllAgents,
  type ExportMetricsServiceRequest,
} from '../helpers/otlp-receiver.ts';
import { freePort, peerProtoDir } from '../helpers/peers.ts';
import { V1Cgroup, assertV1FirstSplit, spawnBurner, type Burner } from '../metrics/helpers.ts';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const V2_ROOT = path.join(REPO, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const TASK = ['--task', 'default/a=/', '--no-discovery'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const SERVICE = 'opentelemetry.proto.collector.metrics.v1.MetricsService';

const tempDirs: string[] = [];
after(async () => {
  await stopAllAgents();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

interface GrpcRequest {
  seq: number;
  metadata: Record<string, string>;
  body: ExportMetricsServiceRequest;
}

/**
 * A gRPC OTLP metrics receiver: the service definition (path, method) from the official
 * .proto by @grpc/proto-loader; the request bytes decoded by the canonical protobufjs types,
 * so that every point is checked exactly as the HTTP receiver checks it. `unavailable` answers
 * UNAVAILABLE, as a collector under pressure does.
 */
class GrpcReceiver {
  readonly requests: GrpcRequest[] = [];
  unavailable = false;

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
    readonly secure: boolean,
  ) {}

  get endpoint(): string {
    return `${this.secure ? 'https' : 'http'}://${this.secure ? 'localhost' : '127.0.0.1'}:${this.port}`;
  }

  static async start(options: { port?: number; tls?: { key: Buffer; cert: Buffer } } = {}): Promise<GrpcReceiver> {
    const definition = protoLoader.loadSync('opentelemetry/proto/collector/metrics/v1/metrics_service.proto', { includeDirs: [peerProtoDir()] });
    const service = definition[SERVICE] as grpc.ServiceDefinition | undefined;
    assert.ok(service?.Export, `${SERVICE}/Export is not in the official .proto files`);
    const { response } = otlpTypes();
    // Raw bytes in (decoded below with the canonical types), an empty ExportMetricsServiceResponse out.
    const exportMethod = {
      ...service.Export,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: () => Buffer.from(response.encode(response.create({})).finish()),
    };
    let self: GrpcReceiver | undefined;
    const server = new grpc.Server();
    server.addService({ Export: exportMethod } as grpc.ServiceDefinition, {
      Export: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const r = self as GrpcReceiver;
        const metadata: Record<string, string> = {};
        for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
        r.requests.push({ seq: r.requests.length + 1, metadata, body: decodeProtobuf(call.request) });
        if (r.unavailable) callback({ code: grpc.status.UNAVAILABLE, details: 'collector overloaded (test)' });
        else callback(null, {});
      },
    });
    const credentials = options.tls
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: options.tls.key, cert_chain: options.tls.cert }])
      : grpc.ServerCredentials.createInsecure();
    const host = options.tls ? 'localhost' : '127.0.0.1';
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${options.port ?? 0}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
    );
    self = new GrpcReceiver(server, port, options.tls !== undefined);
    return self;
  }

  async waitFor(pred: (r: GrpcRequest) => boolean, timeoutMs: number, what: string): Promise<GrpcRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.requests.find(pred);
      if (hit) return hit;
      assert.ok(Date.now() < deadline, `no gRPC request with ${what} within ${timeoutMs} ms (${this.requests.length} received)`);
      await sleep(25);
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.forceShutdown();
      resolve();
    });
  }
}

/** The agent names block devices from this host's /sys: the fixture's 254:0 is whatever that is here. */
const DISK_254_0 = sysfsDeviceNames().name(254, 0);
/** OTel-named values of the v2 `loaded` fixture (the same as test/export/otlp.test.ts checks over HTTP). */
const V2_VALUES: Array<[string, Record<string, string>, number, 'int' | 'double']> = [
  ['container.cpu.time', { 'cpu.mode': 'user' }, 0.840607, 'double'],
  ['container.cpu.time', { 'cpu.mode': 'system' }, 1.130241, 'double'],
  ['container.cpu.throttling_data.periods', {}, 40, 'int'],
  ['container.cpu.limit', {}, 0.5, 'double'],
  ['container.memory.usage', {}, 2117632, 'int'],
  ['container.memory.usage.limit', {}, 199999488, 'int'],
  ['container.pids.current', {}, 2, 'int'],
  ['container.pids.limit', {}, 64, 'int'],
  ['container.disk.io', { 'disk.io.direction': 'read', 'system.device': DISK_254_0 }, 1306624, 'int'],
  ['container.disk.io', { 'disk.io.direction': 'write', 'system.device': DISK_254_0 }, 209715200, 'int'],
];

function checkV2Values(body: ExportMetricsServiceRequest): void {
  for (const [name, attrs, value, valueType] of V2_VALUES) {
    const ps = pointsOf(body, name).filter((p) => p.attributes['container.id'] === 'a' && Object.entries(attrs).every(([k, v]) => p.attributes[k] === v));
    assert.equal(ps.length, 1, `${name} ${JSON.stringify(attrs)}: one point`);
    const p = ps[0];
    assert.ok(p);
    assert.equal(p.value, value, `${name} ${JSON.stringify(attrs)}`);
    assert.equal(p.valueType, valueType, `${name}: ${valueType}`);
    assert.equal(p.attributes['container.namespace'], 'default');
    assert.equal(p.scope, 'otel-cgroup-metrics');
    if (p.kind === 'sum' && name !== 'container.memory.usage' && !name.endsWith('.limit') && name !== 'container.pids.current')
      assert.equal(p.temporality, AGGREGATION_TEMPORALITY_CUMULATIVE, `${name}: cumulative`);
  }
}

describe('the agent pushes OTLP over gRPC to a gRPC receiver built on the official .proto files', () => {
  test('--otlp-protocol grpc: every value of the v2 fixture, typed, with its attributes and the resource', async () => {
    const rx = await GrpcReceiver.start();
    const agent = new AgentProcess(
      ['--exporter', 'otlp', '--otlp-protocol', 'grpc', '--otlp-endpoint', rx.endpoint, '--interval', '200', '--root', V2_ROOT, ...TASK],
      { OTEL_SERVICE_NAME: 'grpc-test' },
    );
    try {
      await agent.waitForStderr(new RegExp(`pushing OTLP \\(grpc\\) every 200 ms to ${rx.endpoint.replace(/[.]/g, '\\.')}`));
      const req = await rx.waitFor((r) => pointsOf(r.body, 'container.cpu.time').length > 0, 15_000, 'cpu points');
      checkV2Values(req.body);
      assert.equal(resourceOf(req.body)['service.name'], 'grpc-test');
      assert.equal(resourceOf(req.body)['host.name'], os.hostname());
      assert.equal(pointValue(req.body, 'cgroup_metrics.tasks'), 1);
      assert.equal(pointValue(req.body, 'cgroup_metrics.export.failures', { exporter: 'otlp' }), 0);
      assert.match(req.metadata['user-agent'] ?? '', /OTel-OTLP-Exporter-JavaScript/);
    } finally {
      await agent.stop();
      await rx.close();
    }
  });

  test('OTEL_EXPORTER_OTLP_PROTOCOL=grpc with OTEL_EXPORTER_OTLP_ENDPOINT (as it is); headers as gRPC metadata, the flag over the variable', async () => {
    const rx = await GrpcReceiver.start();
    const agent = new AgentProcess(['--exporter', 'otlp', '--interval', '200', '--otlp-header', 'x-team=checkout', '--root', V2_ROOT, ...TASK], {
      OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=t1,x-team=ignored',
    });
    try {
      const req = await rx.waitFor((r) => pointsOf(r.body, 'container.cpu.time').length > 0, 15_000, 'cpu points');
      checkV2Values(req.body);
      assert.equal(req.metadata['x-tenant'], 't1', 'OTEL_EXPORTER_OTLP_HEADERS → metadata');
      assert.equal(req.metadata['x-team'], 'checkout', '--otlp-header wins over the variable');
    } finally {
      await agent.stop();
      await rx.close();
    }
    // The signal-specific variable alone selects grpc too.
    const rx2 = await GrpcReceiver.start();
    const agent2 = new AgentProcess(['--exporter', 'otlp', '--interval', '200', '--root', V2_ROOT, ...TASK], {
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx2.endpoint,
    });
    try {
      const req = await rx2.waitFor((r) => pointsOf(r.body, 'container.cpu.time').length > 0, 15_000, 'cpu points');
      checkV2Values(req.body);
    } finally {
      await agent2.stop();
      await rx2.close();
    }
  });

  test('https:// is TLS: a receiver with a certificate the agent trusts through OTEL_EXPORTER_OTLP_CERTIFICATE', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-grpc-tls-'));
    tempDirs.push(dir);
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      {
        stdio: 'ignore',
      },
    );
    const rx = await GrpcReceiver.start({ tls: { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } });
    const agent = new AgentProcess(
      ['--exporter', 'otlp', '--otlp-protocol', 'grpc', '--otlp-endpoint', rx.endpoint, '--interval', '200', '--root', V2_ROOT, ...TASK],
      {
        OTEL_EXPORTER_OTLP_CERTIFICATE: cert,
      },
    );
    try {
      const req = await rx.waitFor((r) => pointsOf(r.body, 'container.cpu.time').length > 0, 15_000, 'cpu points over TLS');
      checkV2Values(req.body);
    } finally {
      await agent.stop();
      await rx.close();
    }
  });
});

describe('a gRPC collector that is down or refuses: logged, counted, and the push after recovery carries the data', () => {
  test('nothing listening, then UNAVAILABLE, then a receiver that accepts', async () => {
    const grpcPort = await freePort();
    const promPort = await freePort();
    const agent = new AgentProcess([
      '--exporter',
      'otlp,prometheus',
      '--otlp-protocol',
      'grpc',
      '--otlp-endpoint',
      `http://127.0.0.1:${grpcPort}`,
      '--interval',
      '250',
      '--otlp-timeout',
      '200',
      '--prometheus-host',
      '127.0.0.1',
      '--prometheus-port',
      String(promPort),
      '--root',
      V2_ROOT,
      ...TASK,
    ]);
    let rx: GrpcReceiver | undefined;
    try {
      const failures = async (): Promise<number> => {
        const page = await httpGet(`http://127.0.0.1:${promPort}/metrics`);
        const m = page.body.match(/^cgroup_metrics_export_failures_total\{exporter="otlp"[^}]*\} (\d+)$/m);
        return m ? Number(m[1]) : -1;
      };
      const waitFailures = async (n: number): Promise<number> => {
        const deadline = Date.now() + 20_000;
        for (;;) {
          const f = await failures();
          if (f >= n) return f;
          assert.ok(agent.running, `the agent exited: ${agent.stderr}`);
          assert.ok(Date.now() < deadline, `only ${f} of ${n} failed exports counted; stderr:\n${agent.stderr}`);
          await sleep(50);
        }
      };
      await agent.prometheusUrl();
      await waitFailures(2);
      const line = agent.stderrLines().find((l) => /otlp export failed: /.test(l));
      assert.ok(line, `a failed push is logged; stderr:\n${agent.stderr}`);
      assert.match(line, /otlp export failed: 14 UNAVAILABLE: .*ECONNREFUSED/, 'the log line says why: the gRPC status and the socket error');

      rx = await GrpcReceiver.start({ port: grpcPort });
      rx.unavailable = true;
      await rx.waitFor(() => true, 15_000, 'any request (answered UNAVAILABLE)');
      const before = await failures();
      await waitFailures(before + 1);

      rx.unavailable = false;
      const req = await rx.waitFor(
        (r) => r.seq > 1 && !rx?.unavailable && pointsOf(r.body, 'container.cpu.time').length > 0,
        15_000,
        'an accepted push after recovery',
      );
      checkV2Values(req.body);
      assert.ok(agent.running, 'the agent kept running through the failures');
      assert.ok(pointValue(req.body, 'cgroup_metrics.export.failures', { exporter: 'otlp' }) >= 2, 'the failures travel in the push too');
    } finally {
      await agent.stop();
      await rx?.close();
    }
  });
});

describe('SIGTERM over gRPC: the final reading of a real v1 cgroup goes out before the exit', () => {
  test('one push, the kernel counters of the stopped task', async () => {
    const cg = new V1Cgroup(['cpu', 'cpuacct', 'memory', 'pids'], 'ocm-grpc-sig');
    let burner: Burner | undefined;
    let agent: AgentProcess | undefined;
    const rx = await GrpcReceiver.start();
    try {
      burner = await spawnBurner(300);
      cg.enter(burner.pid);
      agent = new AgentProcess([
        '--exporter',
        'otlp',
        '--otlp-protocol',
        'grpc',
        '--otlp-endpoint',
        rx.endpoint,
        '--interval',
        '60000',
        '--no-discovery',
        '--task',
        `default/sig=${cg.path}`,
      ]);
      await agent.waitForStderr(/pushing OTLP \(grpc\) every 60000 ms/);
      const burnt = await burner.burn();
      const kernel = cg.cpuNs();
      assert.equal(rx.requests.length, 0, 'nothing is pushed before the signal (the interval is 60 s)');

      agent.child.kill('SIGTERM');
      const { code, signal } = await agent.waitForExit(15_000);
      assert.equal(signal, null);
      assert.equal(code, 0, `exit code; stderr:\n${agent.stderr}`);
      assert.match(agent.stderr, /stopped 1 task\(s\); every final reading delivered/);
      assert.equal(rx.requests.length, 1, 'exactly one push: the final one');
      const req = rx.requests[0];
      assert.ok(req);
      const user = pointValue(req.body, 'container.cpu.time', { 'container.id': 'sig', 'cpu.mode': 'user' });
      const system = pointValue(req.body, 'container.cpu.time', { 'container.id': 'sig', 'cpu.mode': 'system' });
      assert.ok(user + system >= (0.8 * burnt.cpuMs) / 1000, `final reading ${user + system} s < 0.8 × ${burnt.cpuMs} ms burnt`);
      // The task's only reading: its split against the kernel files, by two relations (not the code's division).
      assertV1FirstSplit(user, system, kernel, 'the final push');
      const memory = pointsOf(req.body, 'container.memory.usage').find((p) => p.attributes['container.id'] === 'sig');
      assert.ok(memory && memory.value > 0, 'memory is in the final reading too');
      assert.equal(memory.attributes['container.namespace'], 'default');
      assert.equal(pointValue(req.body, 'cgroup_metrics.tasks'), 0, 'the task is no longer registered');
    } finally {
      burner?.kill();
      await agent?.stop();
      await rx.close();
      await cg.remove();
    }
  });
});
