/**
 * Discovery against a real containerd + runc (no CRI, no systemd): the agent finds `ctr run --rm`
 * containers by their cgroup layout and takes one last reading of each when its cgroup.events
 * says `populated 0`, before runc removes the directory. containerd's own /v1/metrics drops a
 * `--rm` container's series within milliseconds of its exit; we must not.
 *
 * Needs root, the hybrid/v2 cgroups of the host, containerd, runc, busybox-static (and
 * Prometheus/VictoriaMetrics from .peers/): `bash scripts/install-peers.sh`. Missing pieces fail
 * with a message naming it, never a skip. Every container runs in a namespace of its own
 * (`ctr -n ocm-…`), and everything started here is torn down in after().
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { hostCgroupMounts } from '../../src/cgroup/mounts.ts';
import { layoutsFrom } from '../../src/discovery/layouts.ts';
import { Discovery } from '../../src/discovery/watcher.ts';
import { CgroupMetrics } from '../../src/metrics/cgroup-metrics.ts';
import { AgentProcess, CLI, httpGet, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort, sampleValue, startPrometheus, startVictoriaMetrics, type PrometheusPeer, type VictoriaMetricsPeer } from '../helpers/peers.ts';
import { kernelTx, sendDatagrams } from '../helpers/net.ts';
import { kernelWatchCount } from '../helpers/watches.ts';
import {
  CAPTURE_CPU_SHARE,
  burnSeconds,
  calibrateBurn,
  makeBusyboxRootfs,
  parseExposition,
  pool,
  randomSuffix,
  startContainerd,
  tally,
  type BurnCalibration,
  type BusyboxRootfs,
  type CmdResult,
  type Containerd,
} from '../helpers/runtimes.ts';

const SHORT_CONTAINERS = 100;
const CONCURRENCY = 4;
/** The figures the README states, asserted here: the agent catches at least this many of the 100 ... */
const OURS_AT_LEAST = SHORT_CONTAINERS - 1;
/** ... and containerd's own /v1/metrics at most this many (18-28 measured, see BENCHMARKS.md). */
const CONTAINERD_AT_MOST = SHORT_CONTAINERS / 2;

interface ShortRun {
  id: string;
  burnS: number;
  result: CmdResult;
  wallMs: number;
}

/** `ctr run --rm` of `count` busybox burns, `concurrency` at a time. */
async function runShortContainers(ctrd: Containerd, ns: string, rootfs: string, cal: BurnCalibration, count: number, concurrency: number): Promise<ShortRun[]> {
  return pool(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const id = `burn-${String(i).padStart(3, '0')}`;
      const burnS = burnSeconds(i);
      const t0 = Date.now();
      const result = await ctrd.ctr(['-n', ns, 'run', '--rm', '--rootfs', rootfs, id, '/bin/sh', '-c', cal.script(burnS)], { timeoutMs: 60_000 });
      return { id, burnS, result, wallMs: Date.now() - t0 };
    },
  );
}

function assertAllRan(runs: ShortRun[]): void {
  const failed = runs.filter((r) => r.result.code !== 0);
  assert.equal(failed.length, 0, `ctr run failed for ${failed.length} container(s), e.g. ${failed[0]?.id}: ${failed[0]?.result.stderr}`);
}

/** Per container id, how the agent's -v log says its task ended: `populated/read`, `removed/none`, ... */
function stopsOf(agent: AgentProcess, ns: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`task ${ns.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(\\S+) stopped \\((\\w+)\\): final reading (\\S+)`);
  for (const l of agent.stderrLines()) {
    const m = re.exec(l);
    if (m) out.set(m[1] as string, `${m[2]}/${m[3]}`);
  }
  return out;
}

/** Ids whose value (CPU seconds) reaches CAPTURE_CPU_SHARE × their burn. */
function caught(runs: ShortRun[], cpuById: Map<string, number>): ShortRun[] {
  return runs.filter((r) => (cpuById.get(r.id) ?? 0) >= CAPTURE_CPU_SHARE * r.burnS);
}

function byLabel(v: Array<{ metric: Record<string, string>; value: [number, string] }>, label: string, scale = 1): Map<string, number> {
  return new Map(v.map((s) => [s.metric[label] as string, sampleValue(s) * scale]));
}

function misses(runs: ShortRun[], cpuById: Map<string, number>, stops: Map<string, string>): string {
  return runs
    .filter((r) => !((cpuById.get(r.id) ?? 0) >= CAPTURE_CPU_SHARE * r.burnS))
    .slice(0, 10)
    .map((r) => `${r.id} (burn ${r.burnS.toFixed(2)} s, exported ${cpuById.get(r.id)?.toFixed(3) ?? 'nothing'}, agent: ${stops.get(r.id) ?? 'no stop logged'})`)
    .join('; ');
}

/** Waits until `count()` reaches `target`, or stops growing for `quietMs`, or `timeoutMs` passes. */
async function settle(count: () => Promise<number>, target: number, quietMs: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const n = await count();
    if (n >= target) return n;
    if (n !== last) {
      last = n;
      lastChange = Date.now();
    }
    if (Date.now() - lastChange >= quietMs || Date.now() >= deadline) return n;
    await sleep(500);
  }
}

/** The mount point of a v1 controller's hierarchy (or the cgroup2 mount on a v2 host). */
function ctrdCgroup(controller: string): string {
  const m = hostCgroupMounts();
  return (m.v1.get(controller) ?? m.v2)?.mountPoint ?? '/sys/fs/cgroup';
}

describe('discovery with a real containerd', { timeout: 420_000 }, () => {
  let ctrd: Containerd;
  let rootfs: BusyboxRootfs;
  let cal: BurnCalibration;
  const suffix = randomSuffix();
  const stopLater: Array<() => Promise<void>> = [];
  const fileStart = Date.now();

  before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    ctrd = await startContainerd();
    rootfs = await makeBusyboxRootfs();
    cal = await calibrateBurn();
    console.log(
      `burn calibration: ${cal.nsPerIteration.toFixed(0)} ns of CPU per loop iteration (runs: ${cal.runs.map((r) => (r.cpuNs / 1e6).toFixed(0)).join(', ')} ms for ${cal.runs[0]?.iterations} iterations); 0.2 s = ${cal.iterations(0.2)} iterations`,
    );
  });

  after(async () => {
    await stopAllAgents();
    for (const s of stopLater.reverse()) await s().catch(() => undefined);
    await ctrd?.stop();
    await rootfs?.remove();
    console.log(`containerd.test.ts: ${((Date.now() - fileStart) / 1000).toFixed(1)} s in all`);
  });

  it(`catches ${SHORT_CONTAINERS} short --rm containers with their final CPU (Prometheus scrape); containerd's /v1/metrics does not`, {
    timeout: 240_000,
  }, async () => {
    const ns = `ocm-prom-${suffix}`;
    const port = await freePort();
    const agent = new AgentProcess(['-v', '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)]);
    stopLater.push(() => agent.stop());
    await agent.prometheusUrl();
    const prom: PrometheusPeer = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`, ctrd.metricsUrl], scrapeIntervalS: 1 });
    stopLater.push(() => prom.stop());
    // Both targets (the agent: job "test"; containerd's /v1/metrics: job "test_1") scraped and up.
    await prom.waitForSeries('count(up == 1) == 2', undefined, 30_000);

    const t0 = Date.now();
    const runs = await runShortContainers(ctrd, ns, rootfs.root, cal, SHORT_CONTAINERS, CONCURRENCY);
    const runMs = Date.now() - t0;
    assertAllRan(runs);

    const oursQ = `sum by (container_id) (max_over_time(container_cpu_time_seconds_total{container_namespace="${ns}"}[15m]))`;
    const theirsQ = `max by (container_id) (max_over_time(container_cpu_total_nanoseconds{namespace="${ns}"}[15m]))`;
    let ours = new Map<string, number>();
    await settle(
      async () => {
        ours = byLabel(await prom.query(oursQ), 'container_id');
        return caught(runs, ours).length;
      },
      SHORT_CONTAINERS,
      4_000,
      20_000,
    );
    const theirs = byLabel(await prom.query(theirsQ), 'container_id', 1e-9);
    const oursN = caught(runs, ours).length;
    const theirsN = caught(runs, theirs).length;
    const stops = stopsOf(agent, ns);
    console.log(`captured: ours=${oursN}/${SHORT_CONTAINERS} containerd=${theirsN}/${SHORT_CONTAINERS}`);
    console.log(
      `  (${SHORT_CONTAINERS} containers, ${CONCURRENCY} at a time, in ${(runMs / 1000).toFixed(1)} s; burns 0.20-0.50 s; series seen at all: ours ${ours.size}, containerd ${theirs.size}; ` +
        `agent stops (trigger/final reading): ${tally(stops.values())})`,
    );
    assert.ok(
      oursN >= OURS_AT_LEAST,
      `only ${oursN}/${SHORT_CONTAINERS} containers were exported with CPU >= ${CAPTURE_CPU_SHARE} x burn; missed: ${misses(runs, ours, stops)}`,
    );
    assert.ok(theirsN <= CONTAINERD_AT_MOST, `containerd's /v1/metrics caught ${theirsN}/${SHORT_CONTAINERS}: more than the README's ${CONTAINERD_AT_MOST}`);
  });

  it(`pushes the final readings of ${SHORT_CONTAINERS} short containers over OTLP to VictoriaMetrics`, { timeout: 240_000 }, async () => {
    const ns = `ocm-otlp-${suffix}`;
    const vm: VictoriaMetricsPeer = await startVictoriaMetrics({ extraArgs: ['-opentelemetry.usePrometheusNaming'] });
    stopLater.push(() => vm.stop());
    const agent = new AgentProcess(['-v', '--exporter', 'otlp', '--otlp-endpoint', vm.otlpUrl, '--interval', '1000']);
    stopLater.push(() => agent.stop());
    await agent.waitForStderr(/pushing OTLP/);
    // The agent's own series arrive: the push path works before the containers start.
    await vm.waitFor('cgroup_metrics_tasks', undefined, 20_000);

    const t0 = Date.now();
    const runs = await runShortContainers(ctrd, ns, rootfs.root, cal, SHORT_CONTAINERS, CONCURRENCY);
    const runMs = Date.now() - t0;
    assertAllRan(runs);

    const q = `sum by (container_id) (max_over_time(container_cpu_time_seconds_total{container_namespace="${ns}"}[15m]))`;
    let ours = new Map<string, number>();
    await settle(
      async () => {
        await vm.flush();
        ours = byLabel(await vm.query(q), 'container_id');
        return caught(runs, ours).length;
      },
      SHORT_CONTAINERS,
      5_000,
      25_000,
    );
    const n = caught(runs, ours).length;
    const stops = stopsOf(agent, ns);
    console.log(
      `captured over OTLP: ours=${n}/${SHORT_CONTAINERS} (${(runMs / 1000).toFixed(1)} s; series seen: ${ours.size}; agent stops: ${tally(stops.values())})`,
    );
    assert.ok(
      n >= OURS_AT_LEAST,
      `only ${n}/${SHORT_CONTAINERS} containers reached VictoriaMetrics with CPU >= ${CAPTURE_CPU_SHARE} x burn; missed: ${misses(runs, ours, stops)}`,
    );
  });

  it('agrees with containerd /v1/metrics on a long-running container: CPU within 2 %, memory within 5 %', { timeout: 120_000 }, async () => {
    const ns = `ocm-long-${suffix}`;
    const id = 'long';
    const port = await freePort();
    const agent = new AgentProcess(['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)]);
    stopLater.push(() => agent.stop());
    const agentUrl = await agent.prometheusUrl();
    // 0.5 CPU, a 20 MB shell variable, then a busy loop.
    await ctrd.ctrOk([
      '-n',
      ns,
      'run',
      '-d',
      '--cpus',
      '0.5',
      '--memory-limit',
      String(256 * 1024 * 1024),
      '--rootfs',
      rootfs.root,
      id,
      '/bin/sh',
      '-c',
      'x=$(head -c 20000000 /dev/zero | tr "\\0" a); while :; do :; done',
    ]);
    try {
      const ours = (page: string): { cpuS: number; memB: number } => {
        const s = parseExposition(page).filter((x) => x.labels.container_namespace === ns && x.labels.container_id === id);
        const cpu = s.filter((x) => x.name === 'container_cpu_time_seconds_total');
        const mem = s.find((x) => x.name === 'container_memory_usage_bytes');
        return { cpuS: cpu.length ? cpu.reduce((a, x) => a + x.value, 0) : NaN, memB: mem?.value ?? NaN };
      };
      const theirs = (page: string): { cpuS: number; memB: number } => {
        const s = parseExposition(page).filter((x) => x.labels.namespace === ns && x.labels.container_id === id);
        const cpu = s.find((x) => x.name === 'container_cpu_total_nanoseconds');
        const mem = s.find((x) => x.name === 'container_memory_usage_usage_bytes');
        return { cpuS: cpu ? cpu.value / 1e9 : NaN, memB: mem?.value ?? NaN };
      };
      // Both see it, and the 20 MB are allocated.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const [a, b] = await Promise.all([httpGet(agentUrl), httpGet(ctrd.metricsUrl)]);
        const o = ours(a.body);
        const t = theirs(b.body);
        if (o.memB > 20e6 && t.memB > 20e6) break;
        if (Date.now() > deadline)
          assert.fail(
            `no readings of ${ns}/${id} with the 20 MB allocated: ours ${JSON.stringify(o)}, containerd ${JSON.stringify(t)}; containerd's page has: ${[...new Set(parseExposition(b.body).map((x) => x.name))].filter((n) => n.startsWith('container_')).join(', ')}`,
          );
        await sleep(500);
      }
      await sleep(6_000); // some seconds of throttled CPU
      const pairs: Array<{ ours: { cpuS: number; memB: number }; theirs: { cpuS: number; memB: number }; skewMs: number; mine: string }> = [];
      for (let k = 0; k < 3; k++) {
        // The two reads as close together as possible: both requests in flight at once.
        const t1 = performance.now();
        const [a, b] = await Promise.all([httpGet(agentUrl), httpGet(ctrd.metricsUrl)]);
        const mine = [
          ...new Set(
            parseExposition(a.body)
              .filter((x) => x.labels.container_id === id)
              .map((x) => x.name),
          ),
        ].join(', ');
        pairs.push({ ours: ours(a.body), theirs: theirs(b.body), skewMs: performance.now() - t1, mine });
        await sleep(1_500);
      }
      // The kernel's own numbers, for the record: cpuacct.usage (what containerd exports) is exact;
      // cpuacct.usage_user/usage_sys are sampled at ticks on current kernels.
      const acct = path.join(ctrdCgroup('cpuacct'), ns, id);
      const kernel = fs.existsSync(acct)
        ? `cpuacct.usage ${(Number(fs.readFileSync(path.join(acct, 'cpuacct.usage'), 'latin1')) / 1e9).toFixed(4)} s, usage_user+usage_sys ${((Number(fs.readFileSync(path.join(acct, 'cpuacct.usage_user'), 'latin1')) + Number(fs.readFileSync(path.join(acct, 'cpuacct.usage_sys'), 'latin1'))) / 1e9).toFixed(4)} s`
        : 'no v1 cpuacct directory';
      const rows = pairs.map((p) => ({
        ...p,
        cpuDiff: Math.abs(p.ours.cpuS - p.theirs.cpuS) / p.theirs.cpuS,
        memDiff: Math.abs(p.ours.memB - p.theirs.memB) / p.theirs.memB,
      }));
      for (const p of rows) {
        console.log(
          `long-running: CPU ours ${p.ours.cpuS.toFixed(4)} s vs containerd ${p.theirs.cpuS.toFixed(4)} s (${(p.cpuDiff * 100).toFixed(3)} %); ` +
            `memory ours ${(p.ours.memB / 1e6).toFixed(2)} MB vs containerd ${(p.theirs.memB / 1e6).toFixed(2)} MB (${(p.memDiff * 100).toFixed(3)} %); both fetched within ${p.skewMs.toFixed(0)} ms`,
        );
      }
      console.log(`long-running: kernel files afterwards: ${kernel}`);
      for (const p of rows) {
        assert.ok(
          p.cpuDiff <= 0.02,
          `CPU differs by ${(p.cpuDiff * 100).toFixed(2)} %: ours ${p.ours.cpuS} s, containerd ${p.theirs.cpuS} s (${kernel}); our series of ${id}: ${p.mine}`,
        );
        assert.ok(p.memDiff <= 0.05, `memory differs by ${(p.memDiff * 100).toFixed(2)} %: ours ${p.ours.memB} B, containerd ${p.theirs.memB} B`);
      }
    } finally {
      await ctrd.ctr(['-n', ns, 'task', 'kill', '-s', 'SIGKILL', id]);
      await ctrd.ctr(['-n', ns, 'task', 'delete', '-f', id]);
      await ctrd.ctr(['-n', ns, 'container', 'rm', id]);
    }
  });

  it('network: a container with a veth pair in its namespace sends datagrams and exits; its final reading (scraped after the exit) has them; a --net-host container has no network series', {
    timeout: 120_000,
  }, async () => {
    const ns = `ocm-net-${suffix}`;
    const hostIf = `ocmv${suffix.slice(0, 6)}`;
    const inIf = `ocmi${suffix.slice(0, 6)}`;
    const port = await freePort();
    const agent = new AgentProcess(['--prometheus-host', '127.0.0.1', '--prometheus-port', String(port), '--groups', 'cpu,network', '-v']);
    stopLater.push(() => agent.stop());
    const agentUrl = await agent.prometheusUrl();
    // Both wait for a file the test writes into the shared rootfs, then exit.
    const go = path.join(rootfs.root, `go-${suffix}`);
    const waitGo = `while [ ! -e /go-${suffix} ]; do sleep 0.05; done`;
    await ctrd.ctrOk(['-n', ns, 'run', '-d', '--rootfs', rootfs.root, 'own', '/bin/sh', '-c', waitGo]);
    await ctrd.ctrOk(['-n', ns, 'run', '-d', '--net-host', '--rootfs', rootfs.root, 'hostnet', '/bin/sh', '-c', waitGo]);
    stopLater.push(async () => {
      for (const id of ['own', 'hostnet']) {
        await ctrd.ctr(['-n', ns, 'task', 'kill', '-s', 'SIGKILL', id]);
        await ctrd.ctr(['-n', ns, 'task', 'delete', '-f', id]);
        await ctrd.ctr(['-n', ns, 'container', 'rm', id]);
      }
      fs.rmSync(go, { force: true });
    });
    const pidOf = async (id: string): Promise<number> => {
      const line = (await ctrd.ctrOk(['-n', ns, 'task', 'ls'])).split('\n').find((l) => l.startsWith(`${id} `));
      return Number(line?.trim().split(/\s+/)[1]);
    };
    const pid = await pidOf('own');
    assert.ok(pid > 0, 'the container runs');
    execFileSync('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', inIf]);
    stopLater.push(async () => {
      try {
        execFileSync('ip', ['link', 'del', hostIf], { stdio: 'ignore' });
      } catch {
        // gone with the namespace
      }
    });
    execFileSync('ip', ['link', 'set', inIf, 'netns', String(pid)]);
    execFileSync('ip', ['addr', 'add', '10.231.78.1/30', 'dev', hostIf]);
    execFileSync('ip', ['link', 'set', hostIf, 'up']);
    execFileSync('nsenter', [`--net=/proc/${pid}/ns/net`, 'sh', '-c', `ip addr add 10.231.78.2/30 dev ${inIf} && ip link set ${inIf} up`]);
    const series = (page: string, id: string) => parseExposition(page).filter((x) => x.labels.container_namespace === ns && x.labels.container_id === id);
    // Seen live by the agent (its veth end), before any traffic.
    for (let t = Date.now(); ; await sleep(200)) {
      const own = series((await httpGet(agentUrl)).body, 'own');
      if (own.some((x) => x.name === 'container_network_packets_total' && x.labels.network_interface_name === inIf)) break;
      if (Date.now() - t > 20_000) assert.fail(`no network series of ${ns}/own: ${JSON.stringify(own.map((x) => x.name))}`);
    }
    const N = 80;
    sendDatagrams(pid, N, 300, '10.231.78.1');
    const kernel = kernelTx(pid, inIf);
    assert.ok(kernel.txPackets >= N, `the kernel counted ${kernel.txPackets} packets sent`);
    // No scrape between the traffic and the exit: only the final reading can carry it.
    fs.writeFileSync(go, '');
    const stopped = (await agent.waitForStderr(new RegExp(`task ${ns}/own stopped \\((\\w+)\\): final reading (\\S+)`), 20_000))[0];
    const page = (await httpGet(agentUrl)).body;
    const tx = series(page, 'own').find(
      (x) => x.name === 'container_network_packets_total' && x.labels.network_io_direction === 'transmit' && x.labels.network_interface_name === inIf,
    );
    const txBytes = series(page, 'own').find(
      (x) => x.name === 'container_network_io_bytes_total' && x.labels.network_io_direction === 'transmit' && x.labels.network_interface_name === inIf,
    );
    console.log(
      `network: kernel ${kernel.txPackets} packets / ${kernel.txBytes} B sent before the exit; the final reading (${stopped}): ${tx?.value} packets / ${txBytes?.value} B`,
    );
    assert.ok(
      tx && tx.value >= kernel.txPackets && tx.value <= kernel.txPackets + 20,
      `final transmit packets ${tx?.value}, the kernel said ${kernel.txPackets}`,
    );
    assert.ok(txBytes && txBytes.value >= kernel.txBytes, `final transmit bytes ${txBytes?.value} >= ${kernel.txBytes}`);
    assert.ok(!series(page, 'own').some((x) => x.labels.network_interface_name === 'lo'), 'lo is never exported');
    const hostnet = series(page, 'hostnet');
    assert.ok(
      hostnet.length === 0 || !hostnet.some((x) => x.name.startsWith('container_network_')),
      `--net-host: no network series (${[...new Set(hostnet.map((x) => x.name))].join(', ')})`,
    );
  });

  it('churns containers for two minutes without leaking watches, tasks, series or memory', { timeout: 240_000 }, async () => {
    const ns = `ocm-churn-${suffix}`;
    const CHURN_MS = 120_000;
    // One layout, this namespace only: other cgroups on the host (other tests) change nothing here.
    const pattern = `^/(?<namespace>${ns})/(?<id>[^/]+)$`;
    // The namespace's cgroups exist before the baseline (runc leaves them after the first container).
    await ctrd.ctrOk(['-n', ns, 'run', '--rm', '--rootfs', rootfs.root, 'warm-up', '/bin/true']);

    const port = await freePort();
    // The agent's live heap: SIGUSR2 makes node write a heap snapshot, which first runs a full GC,
    // and --trace-gc prints the heap left after it. (RSS alone mostly follows garbage piling up
    // between V8's rare full GCs: it rose and fell by 10-20 MB in earlier runs.)
    const snapDir = fs.mkdtempSync(path.join(ctrd.dir, 'heap-'));
    const agent = new AgentProcess(['-v', '--layouts=', '--layout-pattern', pattern, '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], {}, [
      '--trace-gc',
      '--heapsnapshot-signal=SIGUSR2',
      `--diagnostic-dir=${snapDir}`,
    ]);
    stopLater.push(() => agent.stop());
    const fullGcs = (): number[] => [...agent.stdout.matchAll(/ ms: Mark-Compact[^\n]*? -> ([\d.]+) \(/g)].map((m) => Number(m[1]));
    const liveHeapMb = async (): Promise<number> => {
      const n = fullGcs().length;
      agent.child.kill('SIGUSR2');
      const deadline = Date.now() + 20_000;
      while (fullGcs().length === n && Date.now() < deadline) await sleep(100);
      for (const f of fs.readdirSync(snapDir)) fs.rmSync(path.join(snapDir, f), { force: true });
      const after = fullGcs().slice(n);
      assert.ok(after.length > 0, `no full GC traced within 20 s of SIGUSR2; agent stdout ends: ${agent.stdout.slice(-500)}`);
      return Math.min(...after);
    };
    const agentUrl = await agent.prometheusUrl();
    // The same discovery in this process, to read its watch and task counts.
    const engine = new CgroupMetrics({ onGone: 'stop' });
    const discovery = new Discovery(engine, { layouts: layoutsFrom([], [pattern]) });
    discovery.start();
    stopLater.push(async () => discovery.close());
    // The pattern bounds the watches to this namespace's directory (and the root), so other
    // tests' cgroups change nothing here. Read when stable: two equal reads 300 ms apart.
    const stable = async (read: () => number): Promise<number> => {
      let prev = NaN;
      for (let k = 0; k < 20; k++) {
        const v = read();
        if (v === prev) return v;
        prev = v;
        await sleep(300);
      }
      return prev;
    };
    await sleep(1_500);
    const base = { lib: await stable(() => discovery.watchCount), agent: await stable(() => kernelWatchCount(agent.pid)), libTasks: discovery.taskCount };

    // A scraper, as Prometheus would: every second, keeping the highest CPU seen per container.
    const cpuSeen = new Map<string, number>();
    let scrapes = 0;
    const scrapeErrors: string[] = [];
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        try {
          const page = (await httpGet(agentUrl)).body;
          scrapes++;
          const sum = new Map<string, number>();
          for (const x of parseExposition(page))
            if (x.name === 'container_cpu_time_seconds_total' && x.labels.container_namespace === ns)
              sum.set(x.labels.container_id as string, (sum.get(x.labels.container_id as string) ?? 0) + x.value);
          for (const [id, v] of sum) cpuSeen.set(id, Math.max(v, cpuSeen.get(id) ?? 0));
        } catch (err) {
          scrapeErrors.push((err as Error).message);
        }
        await sleep(1_000);
      }
    })();

    // Two loops of short --rm containers (20-120 ms of CPU each) for two minutes.
    const t0 = Date.now();
    let started = 0;
    const failures: string[] = [];
    const ran: string[] = [];
    const loop = async (w: number): Promise<void> => {
      for (let k = 0; Date.now() - t0 < CHURN_MS; k++) {
        const id = `c${w}-${k}`;
        started++;
        const r = await ctrd.ctr(['-n', ns, 'run', '--rm', '--rootfs', rootfs.root, id, '/bin/sh', '-c', cal.script(0.02 + 0.1 * ((k % 6) / 5))], {
          timeoutMs: 60_000,
        });
        if (r.code !== 0) failures.push(`${id}: ${r.stderr.trim()}`);
        else ran.push(id);
      }
    };
    let heapBase = NaN;
    const rssSeries: number[] = [];
    const rssProbe = (async () => {
      for (let k = 1; Date.now() - t0 < CHURN_MS; k++) {
        await sleep(Math.max(0, t0 + k * 10_000 - Date.now()));
        const kb = agent.rssKb();
        rssSeries.push(kb);
        if (k === 2) heapBase = await liveHeapMb();
      }
    })();
    let churnMs: number;
    try {
      await Promise.all([loop(0), loop(1), rssProbe]);
      churnMs = Date.now() - t0;
      await sleep(2_500); // last exits seen, last final readings scraped
    } finally {
      scraping = false;
      await scraper;
    }
    const rssEnd = agent.rssKb();
    const heapEnd = await liveHeapMb();

    // One more scrape delivers anything still pending; after it, nothing of the namespace is left.
    await httpGet(agentUrl);
    const page = parseExposition((await httpGet(agentUrl)).body);
    const left = page.filter((x) => x.name.startsWith('container_') && x.labels.container_namespace === ns);
    const tasks = page.find((x) => x.name === 'cgroup_metrics_tasks')?.value;
    const end = { lib: await stable(() => discovery.watchCount), agent: await stable(() => kernelWatchCount(agent.pid)), libTasks: discovery.taskCount };
    const stops = stopsOf(agent, ns);
    stops.delete('warm-up');
    const withCpu = [...cpuSeen.values()].filter((v) => v > 0).length;
    console.log(
      `churn: ${started} containers in ${(churnMs / 1000).toFixed(0)} s (2 loops, ${failures.length} ctr failures), ${scrapes} scrapes; ` +
        `exported with CPU: ${withCpu}; agent stops: ${tally(stops.values())}`,
    );
    console.log(
      `churn: watches: in-process Discovery ${base.lib} -> ${end.lib}, agent's watches ${base.agent} -> ${end.agent}; ` +
        `tasks: in-process ${base.libTasks} -> ${end.libTasks}, agent cgroup_metrics_tasks ${tasks}; series left for the namespace: ${left.length}; ` +
        `agent VmRSS every 10 s (a heap snapshot at 20 s): ${rssSeries.map((kb) => (kb / 1024).toFixed(0)).join(' ')} MB, ${(rssEnd / 1024).toFixed(0)} MB at the end; ` +
        `live heap (after a full GC) ${heapBase} MB at 20 s -> ${heapEnd} MB at the end`,
    );
    assert.equal(failures.length, 0, `ctr run failed ${failures.length} time(s): ${failures.slice(0, 3).join('; ')}`);
    assert.deepEqual(scrapeErrors.slice(0, 3), [], `${scrapeErrors.length} of the agent's scrapes failed`);
    // Every container the agent saw (its -v log says "added") ended with a final reading, and
    // each one read at its exit reached the scraper (one reader: on exactly one scrape) with its
    // CPU time. (A container whose whole life fell within the agent's heap snapshots above,
    // which freeze it for a while, can be gone before the agent looks: it is printed, not asserted.)
    const addedRe = new RegExp(`task ${ns.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/(\\S+) added`);
    const added = new Set(agent.stderrLines().flatMap((l) => addedRe.exec(l)?.[1] ?? []));
    console.log(`churn: ${ran.length} containers ran, ${ran.filter((id) => added.has(id)).length} seen by the agent, ${stops.size} final readings logged`);
    const noStop = ran.filter((id) => added.has(id) && !stops.has(id));
    assert.deepEqual(noStop.slice(0, 5), [], `${noStop.length} of the containers the agent added have no stop logged`);
    const readButNotExported = ran.filter((id) => stops.get(id)?.endsWith('/read') && !((cpuSeen.get(id) ?? 0) > 0));
    assert.deepEqual(readButNotExported.slice(0, 5), [], `${readButNotExported.length} final readings read at the exit never reached a scrape with CPU time`);
    assert.equal(end.lib, base.lib, 'Discovery holds more watches than before the churn');
    assert.equal(end.agent, base.agent, "the agent's watches (inotify + epoll) grew over the churn");
    assert.equal(end.libTasks, 0, 'Discovery still knows tasks of exited containers');
    assert.equal(tasks, 0, 'cgroup_metrics_tasks is not back to 0');
    assert.deepEqual(left.map((x) => `${x.name}{${x.labels.container_id}}`).slice(0, 5), [], 'series of exited containers are still exported');
    assert.ok(heapEnd - heapBase < 2, `the agent's live heap grew from ${heapBase} to ${heapEnd} MB over the churn`);
    // No bound on RSS: it holds the garbage of up to a minute between full GCs, and the heap
    // snapshot at 20 s leaves ~40 MB of malloc'd memory behind. The live heap is the measure.
  });
});
