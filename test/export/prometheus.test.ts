/**
 * The Prometheus pull path, against real peers: `promtool check metrics` (exit 0, no lint) on
 * the agent's page and on `collect --format prometheus` for the v1 and v2 fixtures with every
 * group; the OTel→Prometheus names with unit suffixes (and without); a real Prometheus 2.53
 * scraping the agent, values read back through its query API; the default host/port/path;
 * a port in use; and a measurement of the scrape time and page size for 1000 tasks.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, describe, test } from 'node:test';
import { CATALOG, SELF_METRICS } from '../../src/metrics/catalog.ts';
import { AgentProcess, CLI, OtlpReceiver, childEnv, httpGet, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort, promtoolCheckMetrics, sampleValue, startPrometheus, type PrometheusPeer } from '../helpers/peers.ts';

const REPO = path.resolve(path.dirname(CLI), '../..');
const V2_ROOT = path.join(REPO, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const V1_ROOT = path.join(REPO, 'test/fixtures/cgroup-v1-kernel-6.18');
const ALL_GROUPS = 'cpu,cpu.percpu,memory,disk,pids,hugetlb,pressure,uptime';

after(stopAllAgents);

/** Every catalog metric's name on the Prometheus page (unit suffix, `_total` on counters). */
const PROM_NAME: Record<string, string> = {
  'container.cpu.time': 'container_cpu_time_seconds_total',
  'container.cpu.throttling_data.periods': 'container_cpu_throttling_data_periods_total',
  'container.cpu.throttling_data.throttled_periods': 'container_cpu_throttling_data_throttled_periods_total',
  'container.cpu.throttling_data.throttled_time': 'container_cpu_throttling_data_throttled_time_seconds_total',
  'container.cpu.limit': 'container_cpu_limit',
  'container.cpu.usage.percpu': 'container_cpu_usage_percpu_seconds_total',
  'container.memory.usage': 'container_memory_usage_bytes',
  'container.memory.working_set': 'container_memory_working_set_bytes',
  'container.memory.rss': 'container_memory_rss_bytes',
  'container.memory.file': 'container_memory_file_bytes',
  'container.memory.available': 'container_memory_available_bytes',
  'container.memory.usage.limit': 'container_memory_usage_limit_bytes',
  'container.memory.usage.max': 'container_memory_usage_max_bytes',
  'container.memory.swap.usage': 'container_memory_swap_usage_bytes',
  'container.memory.fails': 'container_memory_fails_total',
  'container.memory.oom_kills': 'container_memory_oom_kills_total',
  'container.paging.faults': 'container_paging_faults_total',
  'container.disk.io': 'container_disk_io_bytes_total',
  'container.disk.operations': 'container_disk_operations_total',
  // `_count` is reserved for histograms and summaries (promtool lint): the suffix is dropped.
  'container.pids.current': 'container_pids_current',
  'container.pids.limit': 'container_pids_limit',
  'container.hugetlb.usage': 'container_hugetlb_usage_bytes',
  'container.hugetlb.fails': 'container_hugetlb_fails_total',
  'container.pressure.time': 'container_pressure_time_seconds_total',
  'container.network.io': 'container_network_io_bytes_total',
  'container.network.packets': 'container_network_packets_total',
  'container.network.errors': 'container_network_errors_total',
  'container.network.dropped': 'container_network_dropped_total',
  'container.uptime': 'container_uptime_seconds',
};
/** The same without unit suffixes (--no-unit-suffixes): the JS exporter's own names. */
const PROM_NAME_NO_UNITS: Record<string, string> = {
  'container.cpu.time': 'container_cpu_time_total',
  'container.cpu.throttling_data.throttled_time': 'container_cpu_throttling_data_throttled_time_total',
  'container.memory.usage': 'container_memory_usage',
  'container.pressure.time': 'container_pressure_time_total',
  'container.uptime': 'container_uptime',
  'container.disk.io': 'container_disk_io_total',
};
const SELF_NAMES = [
  'cgroup_metrics_tasks',
  'cgroup_metrics_collection_duration_seconds',
  'cgroup_metrics_final_readings_pending',
  'cgroup_metrics_final_readings_sources_total',
  'cgroup_metrics_final_readings_missed_total',
  'cgroup_metrics_final_readings_dropped_total',
  'cgroup_metrics_files_open',
  'cgroup_metrics_files_limit',
  'cgroup_metrics_tasks_read_path',
];
/** Network comes from the tasks' processes (/proc/<pid>/net/dev), read on real cgroup file systems only: test/cgroup/network.test.ts. */
const NETWORK = ['container.network.io', 'container.network.packets', 'container.network.errors', 'container.network.dropped'];
/** What each fixture has data for (with every group on). */
const ABSENT: Record<'v1' | 'v2', string[]> = {
  // cgroup v2 has no per-CPU usage.
  v2: ['container.cpu.usage.percpu', ...NETWORK],
  // The v1 fixture: blkio says `Total 0` (idle devices are skipped), no hugetlb hierarchy, no cgroup2 twin for PSI.
  v1: ['container.disk.io', 'container.disk.operations', 'container.hugetlb.usage', 'container.hugetlb.fails', 'container.pressure.time', ...NETWORK],
};

function readNumber(...p: string[]): number {
  return Number(
    fs
      .readFileSync(path.join(...p), 'utf8')
      .trim()
      .split(/\s+/)[0],
  );
}
/** v1 CPU time as the catalog defines it: the exact cpuacct.usage split by the sampled usage_user/usage_sys shares. */
function v1CpuSeconds(mode: 'user' | 'system'): number {
  const usage = readNumber(V1_ROOT, 'cpuacct/cpuacct.usage');
  const user = readNumber(V1_ROOT, 'cpuacct/cpuacct.usage_user');
  const share = user / (user + readNumber(V1_ROOT, 'cpuacct/cpuacct.usage_sys'));
  return (usage * (mode === 'user' ? share : 1 - share)) / 1e9;
}

function statField(file: string, key: string): number {
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key} `));
  assert.ok(line, `${file} has no ${key}`);
  return Number(line.split(' ')[1]);
}
function psiTotal(file: string, kind: 'some' | 'full'): number {
  const line = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${kind} `));
  const m = line?.match(/total=(\d+)/);
  assert.ok(m, `${file} has no ${kind} total`);
  return Number(m[1]);
}

/** Values read straight from the fixture files (the oracle), keyed by Prometheus series. */
const EXPECTED = {
  v2: [
    ['container_cpu_time_seconds_total', { cpu_mode: 'user' }, statField(path.join(V2_ROOT, 'cpu.stat'), 'user_usec') / 1e6],
    ['container_cpu_time_seconds_total', { cpu_mode: 'system' }, statField(path.join(V2_ROOT, 'cpu.stat'), 'system_usec') / 1e6],
    ['container_cpu_throttling_data_periods_total', {}, statField(path.join(V2_ROOT, 'cpu.stat'), 'nr_periods')],
    ['container_cpu_throttling_data_throttled_time_seconds_total', {}, statField(path.join(V2_ROOT, 'cpu.stat'), 'throttled_usec') / 1e6],
    ['container_cpu_limit', {}, 0.5],
    ['container_memory_usage_bytes', {}, readNumber(V2_ROOT, 'memory.current')],
    ['container_memory_usage_limit_bytes', {}, readNumber(V2_ROOT, 'memory.max')],
    ['container_memory_usage_max_bytes', {}, readNumber(V2_ROOT, 'memory.peak')],
    ['container_pids_current', {}, readNumber(V2_ROOT, 'pids.current')],
    ['container_pids_limit', {}, readNumber(V2_ROOT, 'pids.max')],
    ['container_disk_io_bytes_total', { disk_io_direction: 'write' }, 209715200],
    ['container_pressure_time_seconds_total', { pressure_resource: 'cpu', pressure_type: 'some' }, psiTotal(path.join(V2_ROOT, 'cpu.pressure'), 'some') / 1e6],
    ['container_pressure_time_seconds_total', { pressure_resource: 'io', pressure_type: 'full' }, psiTotal(path.join(V2_ROOT, 'io.pressure'), 'full') / 1e6],
    ['container_hugetlb_usage_bytes', { hugetlb_page_size: '2MB' }, readNumber(V2_ROOT, 'hugetlb.2MB.current')],
  ],
  v1: [
    ['container_cpu_time_seconds_total', { cpu_mode: 'user' }, v1CpuSeconds('user')],
    ['container_cpu_time_seconds_total', { cpu_mode: 'system' }, v1CpuSeconds('system')],
    [
      'container_cpu_usage_percpu_seconds_total',
      { cpu_logical_number: '1' },
      Number(fs.readFileSync(path.join(V1_ROOT, 'cpuacct/cpuacct.usage_percpu'), 'utf8').trim().split(/\s+/)[1]) / 1e9,
    ],
    ['container_cpu_throttling_data_throttled_time_seconds_total', {}, statField(path.join(V1_ROOT, 'cpu/cpu.stat'), 'throttled_time') / 1e9],
    ['container_cpu_limit', {}, readNumber(V1_ROOT, 'cpu/cpu.cfs_quota_us') / readNumber(V1_ROOT, 'cpu/cpu.cfs_period_us')],
    ['container_memory_usage_bytes', {}, readNumber(V1_ROOT, 'memory/memory.usage_in_bytes')],
    ['container_memory_usage_limit_bytes', {}, readNumber(V1_ROOT, 'memory/memory.limit_in_bytes')],
    ['container_memory_file_bytes', {}, statField(path.join(V1_ROOT, 'memory/memory.stat'), 'total_cache')],
    ['container_pids_current', {}, readNumber(V1_ROOT, 'pids/pids.current')],
    ['container_pids_limit', {}, readNumber(V1_ROOT, 'pids/pids.max')],
  ],
} as const satisfies Record<string, ReadonlyArray<readonly [string, Record<string, string>, number]>>;

// ------------------------------------------------------------------ the exposition format

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parsePage(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const t = line.match(/^# TYPE (\S+) (\S+)$/);
      if (t) types.set(t[1] as string, t[2] as string);
      continue;
    }
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    assert.ok(m, `unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

function namesOf(text: string): Set<string> {
  return new Set(parsePage(text).samples.map((s) => s.name));
}

function expectedNames(fixture: 'v1' | 'v2', names: Record<string, string> = PROM_NAME): string[] {
  return CATALOG.filter((d) => !ABSENT[fixture].includes(d.name)).map(
    (d) => names[d.name] ?? assert.fail(`no Prometheus name for ${d.name} in the test's table`),
  );
}

function assertValues(fixture: 'v1' | 'v2', text: string, id = 'a'): void {
  const { samples } = parsePage(text);
  for (const [name, labels, want] of EXPECTED[fixture]) {
    const hits = samples.filter((s) => s.name === name && s.labels.container_id === id && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    assert.equal(hits.length, 1, `${fixture}: ${hits.length} samples of ${name}${JSON.stringify(labels)} for ${id}`);
    assert.ok(Math.abs((hits[0] as Sample).value - want) < 1e-9, `${fixture}: ${name}${JSON.stringify(labels)} = ${(hits[0] as Sample).value}, want ${want}`);
  }
}

async function assertPromtoolClean(text: string, what: string): Promise<void> {
  const r = await promtoolCheckMetrics(text);
  assert.equal(r.output, '', `promtool check metrics on ${what} printed:\n${r.output}`);
  assert.equal(r.code, 0, `promtool check metrics on ${what} exited ${r.code}`);
}

function collect(...args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, 'collect', ...args], { encoding: 'utf8', timeout: 30_000, env: childEnv(), maxBuffer: 256 * 1024 * 1024 });
  assert.equal(r.status, 0, `collect ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr, '', 'collect writes nothing to stderr');
  return r.stdout;
}

/** An agent serving the fixture on 127.0.0.1:<free port>; resolves with it and its page URL. */
async function agentOn(root: string, extra: string[] = [], env: Record<string, string> = {}): Promise<{ agent: AgentProcess; url: string; port: number }> {
  const port = await freePort();
  const agent = new AgentProcess(
    [
      '--root',
      root,
      '--task',
      'default/a=/',
      '--no-discovery',
      '--groups',
      ALL_GROUPS,
      '--prometheus-host',
      '127.0.0.1',
      '--prometheus-port',
      String(port),
      ...extra,
    ],
    env,
  );
  const url = await agent.prometheusUrl();
  assert.equal(url, `http://127.0.0.1:${port}/metrics`);
  return { agent, url, port };
}

async function scrape(url: string): Promise<string> {
  const r = await httpGet(url);
  assert.equal(r.status, 200, `GET ${url}: ${r.status} ${r.body}`);
  assert.equal(r.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  return r.body;
}

// ------------------------------------------------------------------ tests

describe('the Prometheus page passes promtool and carries every catalog metric', () => {
  test('the test table covers the whole catalog', () => {
    assert.deepEqual(Object.keys(PROM_NAME).sort(), CATALOG.map((d) => d.name).sort());
    assert.equal(
      SELF_NAMES.length,
      Object.values(SELF_METRICS).length - 4,
      'every self metric but read.errors, metadata.errors and discovery.errors (only present once an error happened) and export.failures (only with a push exporter)',
    );
  });

  for (const fixture of ['v2', 'v1'] as const) {
    const root = fixture === 'v2' ? V2_ROOT : V1_ROOT;

    test(`${fixture}: collect --format prometheus, every group`, async () => {
      const page = collect('--root', root, '--task', 'default/a=/', '--groups', ALL_GROUPS, '--format', 'prometheus');
      await assertPromtoolClean(page, `collect (${fixture})`);
      const names = namesOf(page);
      for (const n of [...expectedNames(fixture), ...SELF_NAMES])
        assert.ok(names.has(n), `${fixture}: ${n} missing from the page; names: ${[...names].join(', ')}`);
      for (const d of ABSENT[fixture]) assert.ok(!names.has(PROM_NAME[d] as string), `${fixture}: ${PROM_NAME[d]} should have no data`);
      assertValues(fixture, page);
    });

    test(`${fixture}: the agent's page, every group`, async () => {
      const { agent, url } = await agentOn(root);
      try {
        const page = await scrape(url);
        await assertPromtoolClean(page, `the agent's page (${fixture})`);
        const names = namesOf(page);
        for (const n of [...expectedNames(fixture), ...SELF_NAMES]) assert.ok(names.has(n), `${fixture}: ${n} missing from the agent's page`);
        assertValues(fixture, page);
        const { types } = parsePage(page);
        assert.equal(types.get('container_cpu_time_seconds_total'), 'counter');
        assert.equal(types.get('container_memory_usage_bytes'), 'gauge');
        assert.equal(types.get('container_pids_current'), 'gauge');
        // The page and `collect` show the same series names.
        const collected = namesOf(collect('--root', root, '--task', 'default/a=/', '--groups', ALL_GROUPS));
        assert.deepEqual([...names].sort(), [...collected].sort());
        // A second scrape is as clean (cumulative state, no duplicate series).
        const again = await scrape(url);
        await assertPromtoolClean(again, `the agent's second page (${fixture})`);
      } finally {
        await agent.stop();
      }
    });
  }

  test("--no-unit-suffixes: the exporter's own names (container_cpu_time_total)", async () => {
    const page = collect('--root', V2_ROOT, '--task', 'default/a=/', '--groups', ALL_GROUPS, '--no-unit-suffixes');
    const names = namesOf(page);
    for (const [otel, n] of Object.entries(PROM_NAME_NO_UNITS)) {
      assert.ok(names.has(n), `${n} (${otel}) missing without unit suffixes`);
      assert.ok(!names.has(PROM_NAME[otel] as string), `${PROM_NAME[otel]} present despite --no-unit-suffixes`);
    }
    const { agent, url } = await agentOn(V2_ROOT, ['--no-unit-suffixes']);
    try {
      const agentNames = namesOf(await scrape(url));
      assert.ok(agentNames.has('container_cpu_time_total'));
      assert.ok(!agentNames.has('container_cpu_time_seconds_total'));
      assert.deepEqual([...agentNames].sort(), [...names].sort());
    } finally {
      await agent.stop();
    }
  });
});

describe('a real Prometheus 2.53 scrapes the agent', () => {
  let prom: PrometheusPeer | undefined;
  const agents: AgentProcess[] = [];
  after(async () => {
    await prom?.stop();
    for (const a of agents) await a.stop();
  });

  test('v1 and v2 agents; values read back through the query API', async () => {
    const v2 = await agentOn(V2_ROOT);
    const v1 = await agentOn(V1_ROOT);
    agents.push(v2.agent, v1.agent);
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${v2.port}`, `127.0.0.1:${v1.port}`] });
    // Prometheus scrapes with Accept-Encoding: gzip: the agent answers that with a gzipped page
    // (what Prometheus receives on the wire: test/export/scrape-gzip.test.ts).
    const direct = await fetch(v2.url, { headers: { 'accept-encoding': 'gzip' }, signal: AbortSignal.timeout(5_000) });
    assert.equal(direct.headers.get('content-encoding'), 'gzip');
    assert.match(await direct.text(), /^container_cpu_time_seconds_total\{/m);
    const started = performance.now();
    const inst = { v2: `127.0.0.1:${v2.port}`, v1: `127.0.0.1:${v1.port}` };
    const one = async (promql: string): Promise<number> => {
      const v = await (prom as PrometheusPeer).waitForSeries(promql, (r) => r.length === 1, 30_000);
      return sampleValue(v[0] as (typeof v)[number]);
    };
    // The brief's example, exactly.
    assert.equal(await one(`container_cpu_time_seconds_total{container_id="a",cpu_mode="user",instance="${inst.v2}"}`), 0.840607);
    console.log(`# Prometheus: first sample visible ${Math.round(performance.now() - started)} ms after start`);
    for (const fixture of ['v2', 'v1'] as const) {
      for (const [name, labels, want] of EXPECTED[fixture]) {
        const sel = Object.entries({ container_id: 'a', instance: inst[fixture], ...labels })
          .map(([k, v]) => `${k}="${v}"`)
          .join(',');
        const got = await one(`${name}{${sel}}`);
        assert.ok(Math.abs(got - want) < 1e-9, `${fixture}: ${name}{${sel}} = ${got}, want ${want}`);
      }
      assert.equal(await one(`cgroup_metrics_tasks{instance="${inst[fixture]}"}`), 1);
      // Every series Prometheus ingested for the task: the catalog's names, nothing else.
      const series = await (prom as PrometheusPeer).query(`count by (__name__) ({container_id="a",instance="${inst[fixture]}"})`);
      assert.deepEqual(series.map((s) => s.metric.__name__).sort(), expectedNames(fixture).sort());
    }
    // Both targets are healthy: the pages parsed without error.
    const targets = await prom.targets();
    assert.equal(targets.length, 2);
    for (const t of targets) assert.equal(t.health, 'up', `${t.scrapeUrl}: ${t.lastError}`);
  });
});

describe('endpoint defaults and failures', () => {
  test('defaults: localhost:9464/metrics (another path is 404)', async () => {
    // 9464 is the standard port: a test elsewhere on this machine may hold it for a moment.
    let agent: AgentProcess | undefined;
    for (let attempt = 0; ; attempt++) {
      agent = new AgentProcess(['--root', V2_ROOT, '--task', 'default/a=/', '--no-discovery']);
      const r = await Promise.race([agent.prometheusUrl().then(() => 'up' as const), agent.exited.then(() => 'exited' as const)]);
      if (r === 'up') break;
      assert.ok(attempt < 10 && /port is in use/.test(agent.stderr), `the agent exited: ${agent.stderr}`);
      await new Promise((res) => setTimeout(res, 1000));
    }
    try {
      assert.equal(await agent.prometheusUrl(), 'http://localhost:9464/metrics');
      const page = await scrape('http://localhost:9464/metrics');
      assert.match(page, /^container_cpu_time_seconds_total\{container_id="a",container_namespace="default",cpu_mode="user",[^}]*\} 0\.840607$/m);
      const other = await httpGet('http://localhost:9464/');
      assert.equal(other.status, 404);
      assert.match(other.body, /metrics are at \/metrics/);
      // Bound to the loopback interface only.
      const listening = fs.readFileSync('/proc/net/tcp', 'utf8') + fs.readFileSync('/proc/net/tcp6', 'utf8');
      const lines = listening.split('\n').filter((l) => l.includes(`:${(9464).toString(16).toUpperCase().padStart(4, '0')} `) && / 0A /.test(l));
      assert.ok(lines.length > 0, 'nothing listens on 9464');
      for (const l of lines) {
        const local = (l.trim().split(/\s+/)[1] ?? '').split(':')[0];
        assert.ok(local === '0100007F' || local === '00000000000000000000000001000000', `9464 is bound to ${local}, not to the loopback address`);
      }
    } finally {
      await agent.stop();
    }
  });

  test('OTEL_EXPORTER_PROMETHEUS_PORT and _HOST are honoured; --prometheus-path moves the page', async () => {
    const port = await freePort();
    const agent = new AgentProcess(['--root', V2_ROOT, '--task', 'default/a=/', '--no-discovery', '--prometheus-path', '/cgroups'], {
      OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    });
    try {
      assert.equal(await agent.prometheusUrl(), `http://127.0.0.1:${port}/cgroups`);
      assert.match(await scrape(`http://127.0.0.1:${port}/cgroups`), /container_cpu_time_seconds_total\{/);
      assert.equal((await httpGet(`http://127.0.0.1:${port}/metrics`)).status, 404);
      // A query string does not matter.
      assert.equal((await httpGet(`http://127.0.0.1:${port}/cgroups?x=1`)).status, 200);
    } finally {
      await agent.stop();
    }
  });

  test('port in use: one line on stderr, exit 1, nothing else started', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    const port = (blocker.address() as net.AddressInfo).port;
    const rx = await OtlpReceiver.start();
    try {
      // With an OTLP exporter too: it must not push (no half-started agent).
      const agent = new AgentProcess([
        '--root',
        V2_ROOT,
        '--task',
        'default/a=/',
        '--exporter',
        'prometheus,otlp',
        '--otlp-endpoint',
        rx.url,
        '--interval',
        '100',
        '--prometheus-host',
        '127.0.0.1',
        '--prometheus-port',
        String(port),
      ]);
      const { code, signal } = await agent.waitForExit(10_000);
      assert.equal(signal, null);
      assert.equal(code, 1, `exit code; stderr:\n${agent.stderr}`);
      assert.deepEqual(agent.stderrLines(), [
        `otel-cgroup-metrics: cannot serve Prometheus metrics on 127.0.0.1:${port}: the port is in use; choose another with --prometheus-port or OTEL_EXPORTER_PROMETHEUS_PORT`,
      ]);
      assert.equal(agent.stdout, '');
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(rx.requests.length, 0, 'the OTLP exporter pushed although the agent failed to start');
    } finally {
      await rx.close();
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe('measurement: 1000 tasks', () => {
  test('scrape time and page size (printed, not asserted)', async () => {
    const tasks: string[] = [];
    for (let i = 0; i < 1000; i++) tasks.push('--task', `default/t${String(i).padStart(4, '0')}=/`);
    for (const groups of ['cpu,memory,disk,pids,pressure,uptime', ALL_GROUPS]) {
      const port = await freePort();
      const agent = new AgentProcess([
        '--root',
        V2_ROOT,
        ...tasks,
        '--no-discovery',
        '--groups',
        groups,
        '--prometheus-host',
        '127.0.0.1',
        '--prometheus-port',
        String(port),
      ]);
      try {
        const url = await agent.prometheusUrl(30_000);
        const times: number[] = [];
        let page = '';
        for (let i = 0; i < 21; i++) {
          const t0 = performance.now();
          page = await scrape(url);
          times.push(performance.now() - t0);
        }
        const first = times[0] as number;
        const rest = times.slice(1).sort((a, b) => a - b);
        const median = rest[Math.floor(rest.length / 2)] as number;
        const max = rest[rest.length - 1] as number;
        const { samples } = parsePage(page);
        const cpu = samples.filter((s) => s.name === 'container_cpu_time_seconds_total');
        assert.equal(cpu.length, 2000, 'user and system for every task');
        assert.equal(new Set(cpu.map((s) => s.labels.container_id)).size, 1000);
        // No duplicate series (promtool on a 5 MB page takes ~15 s; the 1-task pages above are linted).
        const keys = new Set(samples.map((s) => `${s.name}${JSON.stringify(s.labels)}`));
        assert.equal(keys.size, samples.length, 'duplicate series on the page');
        const bytes = Buffer.byteLength(page);
        console.log(
          `# 1000 tasks, groups ${groups}: first scrape ${first.toFixed(1)} ms, then median ${median.toFixed(1)} ms, max ${max.toFixed(1)} ms (20 scrapes); ` +
            `page ${(bytes / 1024).toFixed(0)} KiB (${bytes} bytes), ${samples.length} samples, ${(bytes / 1000).toFixed(0)} bytes/task; agent RSS ${(agent.rssKb() / 1024).toFixed(1)} MiB`,
        );
      } finally {
        await agent.stop();
      }
    }
  });
});
