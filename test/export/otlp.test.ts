/**
 * The OTLP push path: a real VictoriaMetrics receiving protobuf pushes from the agent (values
 * queried back with PromQL), the test receiver asserting exact payloads (protobuf and JSON,
 * gzip, delta temporality, resource attributes, headers, endpoints from the environment), and
 * the failure modes (collector down, answering 500, hanging): the agent keeps running and
 * serving, its memory stays bounded, stderr says what failed, and the first export after the
 * collector recovers carries the current values.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { sysfsDeviceNames } from '../../src/cgroup/devices.ts';
import { CATALOG, SELF_METRICS } from '../../src/metrics/catalog.ts';
import {
  AGGREGATION_TEMPORALITY_CUMULATIVE,
  AGGREGATION_TEMPORALITY_DELTA,
  AgentProcess,
  CLI,
  OtlpReceiver,
  childEnv,
  httpGet,
  metricNames,
  pointsOf,
  pointsWith,
  resourceOf,
  stopAllAgents,
  pointValue,
  type ExportMetricsServiceRequest,
  type ReceivedRequest,
} from '../helpers/otlp-receiver.ts';
import { freePort, sampleValue, startVictoriaMetrics, type VictoriaMetricsPeer } from '../helpers/peers.ts';

const REPO = path.resolve(path.dirname(CLI), '../..');
const V2_ROOT = path.join(REPO, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const V1_ROOT = path.join(REPO, 'test/fixtures/cgroup-v1-kernel-6.18');
const ALL_GROUPS = 'cpu,cpu.percpu,memory,disk,pids,hugetlb,pressure,uptime';
const TASK = ['--task', 'default/a=/', '--no-discovery'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const tempDirs: string[] = [];
after(async () => {
  await stopAllAgents();
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A writable copy of the v2 `loaded` fixture (a cgroup2 directory) whose cpu.stat can be changed. */
function writableV2(): { root: string; setCpuUserUsec(usec: number): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-otlp-'));
  tempDirs.push(root);
  for (const f of fs.readdirSync(V2_ROOT)) fs.writeFileSync(path.join(root, f), fs.readFileSync(path.join(V2_ROOT, f)));
  return {
    root,
    setCpuUserUsec(usec: number) {
      const file = path.join(root, 'cpu.stat');
      const text = fs.readFileSync(file, 'utf8').replace(/^user_usec \d+$/m, `user_usec ${usec}`);
      fs.writeFileSync(file, text);
    },
  };
}

/** The agent names block devices from this host's /sys: the fixture's 254:0 is whatever that is here. */
const DISK_254_0 = sysfsDeviceNames().name(254, 0);
/** OTel-named values of the v2 `loaded` fixture (read off its files by the stats tests). */
const V2_VALUES: Array<[string, Record<string, string>, number, 'int' | 'double']> = [
  ['container.cpu.time', { 'cpu.mode': 'user' }, 0.840607, 'double'],
  ['container.cpu.time', { 'cpu.mode': 'system' }, 1.130241, 'double'],
  ['container.cpu.throttling_data.periods', {}, 40, 'int'],
  ['container.cpu.throttling_data.throttled_periods', {}, 39, 'int'],
  ['container.cpu.throttling_data.throttled_time', {}, 3.269141, 'double'],
  ['container.cpu.limit', {}, 0.5, 'double'],
  ['container.memory.usage', {}, 2117632, 'int'],
  ['container.memory.usage.limit', {}, 199999488, 'int'],
  ['container.memory.usage.max', {}, 96116736, 'int'],
  ['container.pids.current', {}, 2, 'int'],
  ['container.pids.limit', {}, 64, 'int'],
  ['container.disk.io', { 'disk.io.direction': 'read', 'system.device': DISK_254_0 }, 1306624, 'int'],
  ['container.disk.io', { 'disk.io.direction': 'write', 'system.device': DISK_254_0 }, 209715200, 'int'],
  ['container.disk.operations', { 'disk.io.direction': 'write', 'system.device': DISK_254_0 }, 201, 'int'],
  ['container.pressure.time', { 'pressure.resource': 'cpu', 'pressure.type': 'some' }, 1.869311, 'double'],
  ['container.pressure.time', { 'pressure.resource': 'io', 'pressure.type': 'full' }, 0.042839, 'double'],
];

/** Starts an agent pushing to `url` and resolves with its first accepted export. */
async function firstExport(rx: OtlpReceiver, args: string[], env: Record<string, string> = {}): Promise<{ agent: AgentProcess; req: ReceivedRequest }> {
  const from = rx.requests.length;
  const agent = new AgentProcess(['--exporter', 'otlp', '--interval', '300', ...args], env);
  const req = await rx.waitFor((r) => r.ok && pointsOf(r.body, 'container.cpu.time').length > 0, 15_000, `an export from ${args.join(' ')}`, from);
  return { agent, req };
}

function assertFixtureValues(body: ExportMetricsServiceRequest, id = 'a'): void {
  for (const [name, attrs, want, valueType] of V2_VALUES) {
    const ps = pointsWith(body, name, { 'container.id': id, 'container.namespace': 'default', ...attrs });
    assert.equal(ps.length, 1, `${ps.length} points of ${name} ${JSON.stringify(attrs)}`);
    const p = ps[0] as (typeof ps)[number];
    assert.equal(p.value, want, `${name} ${JSON.stringify(attrs)}`);
    assert.equal(p.valueType, valueType, `${name} is exported as ${p.valueType}`);
  }
}

// ------------------------------------------------------------------ a real OTLP receiver

describe("VictoriaMetrics receives the agent's protobuf pushes", () => {
  let vm: VictoriaMetricsPeer | undefined;
  after(() => vm?.stop());

  test('v2 (plain) and v1 (gzip) agents; values and names queried back with PromQL', async () => {
    // -opentelemetry.usePrometheusNaming: container.cpu.time (s) → container_cpu_time_seconds_total, as on our page.
    vm = await startVictoriaMetrics({ extraArgs: ['-opentelemetry.usePrometheusNaming'] });
    const v2 = new AgentProcess(
      ['--exporter', 'otlp', '--otlp-endpoint', vm.otlpUrl, '--interval', '1000', '--root', V2_ROOT, ...TASK, '--groups', ALL_GROUPS],
      { OTEL_SERVICE_NAME: 'agent-v2' },
    );
    const v1 = new AgentProcess(
      [
        '--exporter',
        'otlp',
        '--otlp-endpoint',
        vm.otlpUrl,
        '--otlp-compression',
        'gzip',
        '--interval',
        '1000',
        '--root',
        V1_ROOT,
        ...TASK,
        '--groups',
        ALL_GROUPS,
      ],
      { OTEL_SERVICE_NAME: 'agent-v1' },
    );
    try {
      const one = async (promql: string): Promise<number> => {
        const v = await (vm as VictoriaMetricsPeer).waitFor(promql, (r) => r.length === 1, 20_000);
        return sampleValue(v[0] as (typeof v)[number]);
      };
      assert.equal(await one('container_cpu_time_seconds_total{container_id="a",cpu_mode="user",service_name="agent-v2"}'), 0.840607);
      assert.equal(await one('container_cpu_time_seconds_total{container_id="a",cpu_mode="system",service_name="agent-v2"}'), 1.130241);
      assert.equal(await one('container_memory_usage_bytes{container_id="a",service_name="agent-v2"}'), 2117632);
      assert.equal(
        await one('container_pressure_time_seconds_total{container_id="a",pressure_resource="cpu",pressure_type="some",service_name="agent-v2"}'),
        1.869311,
      );
      assert.equal(await one('container_disk_io_bytes_total{container_id="a",disk_io_direction="write",service_name="agent-v2"}'), 209715200);
      assert.equal(await one('container_cpu_limit{container_id="a",service_name="agent-v2"}'), 0.5);
      assert.equal(await one('cgroup_metrics_tasks{service_name="agent-v2"}'), 1);
      // The v1 agent's values (cpuacct.usage split by usage_user/usage_sys), pushed gzip-compressed.
      const v1User = (1549867554 * (383970096 / (383970096 + 1191972229))) / 1e9;
      const got = await one('container_cpu_time_seconds_total{container_id="a",cpu_mode="user",service_name="agent-v1"}');
      assert.ok(Math.abs(got - v1User) < 1e-9, `v1 user CPU ${got}, want ${v1User}`);
      assert.equal(await one('container_cpu_usage_percpu_seconds_total{container_id="a",cpu_logical_number="1",service_name="agent-v1"}'), 1.386520003);
      assert.equal(await one('container_memory_usage_bytes{container_id="a",service_name="agent-v1"}'), 14938112);

      // The same PromQL names as the Prometheus page: whichever way the data travels.
      const page = execFileSync(process.execPath, [CLI, 'collect', '--root', V2_ROOT, '--task', 'default/a=/', '--groups', ALL_GROUPS], {
        encoding: 'utf8',
        env: childEnv(),
      });
      const pageNames = new Set(
        page
          .split('\n')
          .filter((l) => /^(container|cgroup)_/.test(l))
          .map((l) => l.split('{')[0] as string),
      );
      const vmNames = (await vm.query('count by (__name__) ({service_name="agent-v2"})')).map((s) => s.metric.__name__ as string);
      assert.ok(vmNames.includes('container_pids_current'));
      // A pushing agent also carries its push exporter's failure count (0 here); `collect` has none.
      assert.deepEqual(vmNames.sort(), [...pageNames, 'cgroup_metrics_export_failures_total'].sort());
    } finally {
      await v2.stop();
      await v1.stop();
    }
  });
});

// ------------------------------------------------------------------ exact payloads

describe('payloads, as the test receiver decodes them with the canonical .proto files', () => {
  const receivers: OtlpReceiver[] = [];
  after(async () => {
    for (const r of receivers) await r.close();
  });
  async function receiver(opts: Parameters<typeof OtlpReceiver.start>[0] = {}): Promise<OtlpReceiver> {
    const rx = await OtlpReceiver.start(opts);
    receivers.push(rx);
    return rx;
  }

  test('default: http/protobuf, no compression, cumulative; every metric typed as the catalog says', async () => {
    const rx = await receiver();
    const { agent, req } = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', V2_ROOT, ...TASK, '--groups', ALL_GROUPS]);
    await agent.stop();
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/v1/metrics');
    assert.equal(req.contentType, 'application/x-protobuf');
    assert.equal(req.contentEncoding, undefined);
    assert.match(String(req.headers['user-agent']), /^OTel-OTLP-Exporter-JavaScript\//);
    assertFixtureValues(req.body);
    const catalog = new Map(CATALOG.map((d) => [d.name, d]));
    const self = new Map<string, { kind: string; unit: string; valueType: string }>(Object.values(SELF_METRICS).map((d) => [d.name, d]));
    const names = metricNames(req.body);
    assert.equal(new Set(names).size, names.length, `a metric appears twice: ${names.join(', ')}`);
    assert.deepEqual(
      names.filter((n) => catalog.has(n)).sort(),
      // No per-CPU usage on v2; no network for a copied tree (its cgroup.procs are not its processes).
      CATALOG.filter((d) => d.name !== 'container.cpu.usage.percpu' && d.group !== 'network')
        .map((d) => d.name)
        .sort(),
      'every catalog metric the v2 fixture has data for',
    );
    for (const p of pointsOf(req.body)) {
      const d = catalog.get(p.metric) ?? self.get(p.metric);
      assert.ok(d, `unexpected metric ${p.metric}`);
      assert.equal(p.unit, d.unit, `${p.metric} unit`);
      assert.equal(p.valueType, d.valueType, `${p.metric} value type`);
      if (d.kind === 'gauge') assert.equal(p.kind, 'gauge', `${p.metric} is a gauge`);
      else {
        assert.equal(p.kind, 'sum', `${p.metric} is a sum`);
        assert.equal(p.isMonotonic, d.kind === 'counter', `${p.metric} monotonic`);
        assert.equal(p.temporality, AGGREGATION_TEMPORALITY_CUMULATIVE, `${p.metric} cumulative`);
        assert.ok(p.startTimeUnixNano > 0n && p.startTimeUnixNano <= p.timeUnixNano, `${p.metric} start ≤ time`);
      }
      if (catalog.has(p.metric)) assert.equal(p.attributes['container.id'], 'a');
      assert.equal(p.scope, 'otel-cgroup-metrics');
    }
    assert.equal(pointValue(req.body, 'cgroup_metrics.tasks'), 1);
  });

  test('http/json (flag and OTEL_EXPORTER_OTLP_PROTOCOL) carries the same data as protobuf', async () => {
    const rx = await receiver();
    const proto = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', V2_ROOT, ...TASK]);
    await proto.agent.stop();
    const json = await firstExport(rx, ['--otlp-endpoint', rx.url, '--otlp-protocol', 'http/json', '--root', V2_ROOT, ...TASK]);
    await json.agent.stop();
    const jsonEnv = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', V2_ROOT, ...TASK], { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    await jsonEnv.agent.stop();
    assert.equal(proto.req.encoding, 'protobuf');
    for (const r of [json.req, jsonEnv.req]) {
      assert.equal(r.contentType, 'application/json');
      assert.equal(r.encoding, 'json');
      assertFixtureValues(r.body);
      // Same metrics, same points, same values (uptime and the collection duration aside).
      const strip = (b: ExportMetricsServiceRequest): unknown =>
        pointsOf(b)
          .filter((p) => p.metric !== 'container.uptime' && p.metric !== 'cgroup_metrics.collection.duration')
          .map((p) => ({ m: p.metric, a: p.attributes, v: p.value, t: p.valueType, k: p.kind, tm: p.temporality, u: p.unit }));
      assert.deepEqual(strip(r.body), strip(proto.req.body));
    }
  });

  test('gzip: --otlp-compression gzip and OTEL_EXPORTER_OTLP_COMPRESSION', async () => {
    const rx = await receiver();
    for (const [args, env] of [
      [['--otlp-compression', 'gzip'], {}],
      [[], { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }],
      [['--otlp-protocol', 'http/json', '--otlp-compression', 'gzip'], {}],
    ] as Array<[string[], Record<string, string>]>) {
      const { agent, req } = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', V2_ROOT, ...TASK, ...args], env);
      await agent.stop();
      assert.equal(req.contentEncoding, 'gzip', `${args.join(' ')} ${JSON.stringify(env)}`);
      assert.ok(req.wireBytes < req.bodyBytes, `compressed ${req.wireBytes} < ${req.bodyBytes}`);
      assertFixtureValues(req.body);
    }
    const { agent, req } = await firstExport(rx, ['--otlp-endpoint', rx.url, '--otlp-compression', 'none', '--root', V2_ROOT, ...TASK], {
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
    });
    await agent.stop();
    assert.equal(req.contentEncoding, undefined, '--otlp-compression none wins over the variable');
  });

  test('delta temporality (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=delta): counters carry deltas', async () => {
    const rx = await receiver();
    const tree = writableV2();
    const { agent, req: first } = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', tree.root, ...TASK], {
      OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE: 'delta',
    });
    try {
      for (const p of pointsOf(first.body)) {
        const d = CATALOG.find((c) => c.name === p.metric) ?? Object.values(SELF_METRICS).find((c) => c.name === p.metric);
        assert.ok(d, p.metric);
        // Counters are delta; up-down counters stay cumulative (the SDK's delta preference).
        if (d.kind === 'counter') assert.equal(p.temporality, AGGREGATION_TEMPORALITY_DELTA, `${p.metric} is delta`);
        else if (d.kind === 'updowncounter') assert.equal(p.temporality, AGGREGATION_TEMPORALITY_CUMULATIVE, `${p.metric} stays cumulative`);
      }
      // The first delta of a series is everything since the task started.
      assert.equal(pointValue(first.body, 'container.cpu.time', { 'cpu.mode': 'user' }), 0.840607);
      const firstUser = pointsWith(first.body, 'container.cpu.time', { 'cpu.mode': 'user' })[0];
      assert.ok(firstUser);

      // Unchanged counters: the next export's delta is 0 and starts where the last one ended.
      const second = await rx.waitFor((r) => r.ok && r.seq > first.seq, 5_000, 'the second export');
      const secondUser = pointsWith(second.body, 'container.cpu.time', { 'cpu.mode': 'user' })[0];
      assert.ok(secondUser);
      assert.equal(secondUser.value, 0);
      assert.equal(secondUser.startTimeUnixNano, firstUser.timeUnixNano, 'a delta starts where the previous one ended');
      assert.equal(pointValue(second.body, 'container.memory.usage'), 2117632, 'up-down counters keep their value');
      assert.equal(pointValue(second.body, 'container.cpu.throttling_data.periods'), 0);

      // 250 ms more user CPU: exactly one export carries +0.25, the ones after it 0 again.
      tree.setCpuUserUsec(840607 + 250000);
      const bumped = await rx.waitFor(
        (r) => r.ok && r.seq > second.seq && pointValue(r.body, 'container.cpu.time', { 'cpu.mode': 'user' }) !== 0,
        5_000,
        'the export with the CPU delta',
      );
      assert.ok(Math.abs(pointValue(bumped.body, 'container.cpu.time', { 'cpu.mode': 'user' }) - 0.25) < 1e-9);
      assert.equal(pointValue(bumped.body, 'container.cpu.time', { 'cpu.mode': 'system' }), 0);
      const next = await rx.waitFor((r) => r.ok && r.seq > bumped.seq, 5_000, 'the export after the delta');
      assert.equal(pointValue(next.body, 'container.cpu.time', { 'cpu.mode': 'user' }), 0);
      // Deltas of consecutive exports tile the time line.
      const accepted = rx.accepted.filter((r) => r.seq >= first.seq && r.seq <= next.seq);
      for (let i = 1; i < accepted.length; i++) {
        const prev = pointsWith((accepted[i - 1] as ReceivedRequest).body, 'container.cpu.time', { 'cpu.mode': 'user' })[0];
        const cur = pointsWith((accepted[i] as ReceivedRequest).body, 'container.cpu.time', { 'cpu.mode': 'user' })[0];
        assert.equal(cur?.startTimeUnixNano, prev?.timeUnixNano);
      }
    } finally {
      await agent.stop();
    }
  });

  test('resource: service.name, host.name, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES', async () => {
    const rx = await receiver();
    const plain = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', V2_ROOT, ...TASK]);
    await plain.agent.stop();
    const res = resourceOf(plain.req.body);
    assert.equal(res['service.name'], 'otel-cgroup-metrics');
    assert.equal(res['host.name'], os.hostname());
    assert.equal(res['telemetry.sdk.language'], 'nodejs');
    assert.equal(res['telemetry.sdk.name'], 'opentelemetry');

    const custom = await firstExport(rx, ['--otlp-endpoint', rx.url, '--root', V2_ROOT, ...TASK], {
      OTEL_SERVICE_NAME: 'cgroups-ci',
      OTEL_RESOURCE_ATTRIBUTES: 'service.name=overridden,deployment.environment.name=ci,team=infra%20ops,host.name=node-7',
    });
    await custom.agent.stop();
    const r2 = resourceOf(custom.req.body);
    assert.equal(r2['service.name'], 'cgroups-ci', 'OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES');
    assert.equal(r2['deployment.environment.name'], 'ci');
    assert.equal(r2.team, 'infra ops', 'values are percent-decoded');
    assert.equal(r2['host.name'], 'node-7', 'OTEL_RESOURCE_ATTRIBUTES wins over the detected host name');
    // Resource attributes stay on the resource, not on the points.
    for (const p of pointsOf(custom.req.body)) assert.equal(p.attributes['service.name'], undefined);
  });

  test('headers: --otlp-header (repeatable) over OTEL_EXPORTER_OTLP_HEADERS and _METRICS_HEADERS', async () => {
    const rx = await receiver();
    const { agent, req } = await firstExport(
      rx,
      ['--otlp-endpoint', rx.url, '--otlp-header', 'X-Tenant=t1', '--otlp-header', 'Authorization=Bearer abc==', '--root', V2_ROOT, ...TASK],
      {
        OTEL_EXPORTER_OTLP_HEADERS: 'x-env=e1,x-tenant=from-env',
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'x-metrics=m1',
      },
    );
    await agent.stop();
    assert.equal(req.headers['x-tenant'], 't1');
    assert.equal(req.headers.authorization, 'Bearer abc==');
    assert.equal(req.headers['x-env'], 'e1');
    assert.equal(req.headers['x-metrics'], 'm1');
  });

  test('endpoints from the environment: OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/metrics), OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (as is)', async () => {
    const base = await receiver();
    const a = await firstExport(base, ['--root', V2_ROOT, ...TASK], { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${base.port}` });
    await a.agent.stop();
    assert.equal(a.req.path, '/v1/metrics');
    assert.match(a.agent.stderr, new RegExp(`pushing OTLP \\(http/protobuf\\) every 300 ms to http://127.0.0.1:${base.port}`));

    const custom = await receiver({ path: '/custom/metrics' });
    const b = await firstExport(custom, ['--root', V2_ROOT, ...TASK], {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: custom.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${base.port}`,
    });
    await b.agent.stop();
    assert.equal(b.req.path, '/custom/metrics');

    // The flag wins over both.
    const flag = await receiver();
    const c = await firstExport(flag, ['--otlp-endpoint', flag.url, '--root', V2_ROOT, ...TASK], { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: custom.url });
    await c.agent.stop();
    assert.equal(c.req.path, '/v1/metrics');
  });

  test('OTEL_METRICS_EXPORTER=otlp and OTEL_METRIC_EXPORT_INTERVAL, without any flag', async () => {
    const rx = await receiver();
    const agent = new AgentProcess(['--root', V2_ROOT, ...TASK], {
      OTEL_METRICS_EXPORTER: 'otlp',
      OTEL_METRIC_EXPORT_INTERVAL: '200',
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: rx.url,
    });
    try {
      await rx.waitFor((r) => r.ok, 10_000, 'the first export');
      const t0 = Date.now();
      await rx.waitForCount(5, 5_000, 'five more exports at 200 ms');
      const perExport = (Date.now() - t0) / 5;
      assert.ok(perExport < 400, `an export every ${perExport} ms, want ~200`);
      assert.doesNotMatch(agent.stderr, /Prometheus metrics at/, 'OTEL_METRICS_EXPORTER=otlp: no Prometheus endpoint');
    } finally {
      await agent.stop();
    }
  });
});

// ------------------------------------------------------------------ failure modes

describe('collector failures: the agent keeps running, memory stays bounded, recovery carries current values', () => {
  for (const mode of ['down', 'error', 'hang'] as const) {
    test(`collector ${mode === 'down' ? 'down (nothing listening)' : mode === 'error' ? 'answering 500' : 'hanging (no response)'}`, async () => {
      const tree = writableV2();
      const otlpPort = await freePort();
      const promPort = await freePort();
      let rx = mode === 'down' ? undefined : await OtlpReceiver.start({ port: otlpPort, mode });
      const url = `http://127.0.0.1:${otlpPort}/v1/metrics`;
      const agent = new AgentProcess([
        '--exporter',
        'otlp,prometheus',
        '--otlp-endpoint',
        url,
        '--interval',
        '250',
        '--otlp-timeout',
        '150',
        '--prometheus-host',
        '127.0.0.1',
        '--prometheus-port',
        String(promPort),
        '--root',
        tree.root,
        ...TASK,
      ]);
      try {
        // Failed exports are counted in cgroup_metrics.export.failures{exporter="otlp"} (the log is rate-limited).
        let counted = 0;
        const failedCount = async (): Promise<number> => {
          const page = await httpGet(`http://127.0.0.1:${promPort}/metrics`);
          const m = page.body.match(/^cgroup_metrics_export_failures_total\{exporter="otlp"[^}]*\} (\d+)$/m);
          counted = m ? Number(m[1]) : 0;
          return counted;
        };
        const waitFailures = async (n: number): Promise<void> => {
          const deadline = Date.now() + 20_000;
          while ((await failedCount()) < n) {
            assert.ok(agent.running, `the agent exited: ${agent.stderr}`);
            assert.ok(Date.now() < deadline, `only ${counted} of ${n} failed exports counted; stderr:\n${agent.stderr}`);
            await sleep(50);
          }
        };
        await agent.prometheusUrl();
        await waitFailures(3);
        const rssStart = agent.rssKb();
        // ~12 more failed exports, scraping the Prometheus endpoint all along.
        const deadline = Date.now() + 20_000;
        let scrapes = 0;
        while ((await failedCount()) < 15) {
          assert.ok(Date.now() < deadline, `stalled at ${counted} failures; stderr:\n${agent.stderr}`);
          const page = await httpGet(`http://127.0.0.1:${promPort}/metrics`);
          assert.equal(page.status, 200);
          assert.match(page.body, /^cgroup_metrics_tasks\{[^}]*\} 1$/m, 'the self metric cgroup_metrics.tasks is served');
          assert.match(page.body, /^container_cpu_time_seconds_total\{container_id="a",[^}]*cpu_mode="user"[^}]*\} 0\.840607$/m);
          scrapes++;
          await sleep(100);
        }
        const rssEnd = agent.rssKb();
        const growthMb = (rssEnd - rssStart) / 1024;
        console.log(
          `# collector ${mode}: ${counted} failed exports, ${scrapes} scrapes; agent RSS ${(rssStart / 1024).toFixed(1)} → ${(rssEnd / 1024).toFixed(1)} MiB (${growthMb >= 0 ? '+' : ''}${growthMb.toFixed(1)} MiB)`,
        );
        assert.ok(growthMb < 30, `RSS grew by ${growthMb.toFixed(1)} MiB over ${counted} failed exports`);
        assert.ok(agent.running);

        // stderr says what failed: the first failure at once, then nothing more within the minute.
        const why = mode === 'down' ? /ECONNREFUSED/ : mode === 'error' ? /Internal Server Error/ : /timed out|no answer within/i;
        const said = agent.stderrLines().filter((l) => l.includes('export failed: '));
        assert.equal(said.length, 1, `one line for ${counted} failures; stderr:\n${agent.stderr}`);
        assert.match(said[0] as string, /^otel-cgroup-metrics: otlp export failed: /);
        assert.match(said[0] as string, why);
        if (rx) assert.ok(rx.requests.length >= 12, `the receiver saw ${rx.requests.length} attempts`);

        // The task's CPU moves on while the collector is away; the first export after recovery has the current value.
        tree.setCpuUserUsec(5_000_000);
        await sleep(300);
        if (rx) rx.mode = 'ok';
        else rx = await OtlpReceiver.start({ port: otlpPort });
        const recovered = await rx.waitFor((r) => r.ok, 10_000, 'the first export after recovery');
        assert.equal(pointValue(recovered.body, 'container.cpu.time', { 'container.id': 'a', 'cpu.mode': 'user' }), 5);
        assert.equal(pointValue(recovered.body, 'container.cpu.time', { 'container.id': 'a', 'cpu.mode': 'system' }), 1.130241);
        assert.equal(pointValue(recovered.body, 'cgroup_metrics.tasks'), 1);
        const failuresAtRecovery = await failedCount();
        await rx.waitForCount(3, 5_000, 'three more exports after recovery');
        assert.ok(rx.requests.slice(-3).every((r) => r.ok));
        assert.ok((await failedCount()) <= failuresAtRecovery + 1, 'no failures once the collector is back');

        // A clean shutdown afterwards.
        agent.child.kill('SIGTERM');
        const { code } = await agent.waitForExit(15_000);
        assert.equal(code, 0, agent.stderr);
      } finally {
        await agent.stop();
        await rx?.close();
      }
    });
  }
});
