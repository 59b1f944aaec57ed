/**
 * Capture at a realistic scrape interval (issue 14): Prometheus scrapes the agent every 15 s,
 * while short `--rm` containers live far less than that. A container's series then exists only
 * because of its final reading (taken at `populated 0`, or the young-task reading when runc's
 * rmdir wins the race), which waits in the agent's pending queue until the next scrape. The 1 s
 * rows of the same table are containerd.test.ts (100 containers) and docker.test.ts (20).
 *
 * - containerd: 200 `ctr run --rm` busybox containers burning 0.05–0.5 s of CPU, 8 at a time.
 * - dockerd (on the same containerd): 50 `docker run --rm`, the same burns, 8 at a time.
 *
 * Each test: a fresh agent (-v; discovery bounded to the test's containers: a custom layout of
 * the containerd shape for the test's namespace, docker's layout alone for dockerd, so that the
 * self counters count these containers only even where other tests make cgroups on the host), a
 * fresh Prometheus scraping it and containerd's own /v1/metrics every 15 s. After the last exit
 * it waits until the agent has logged every container's stop, then for a scrape that began after
 * that, and asserts: a series for every container, at least 99 % (198/200, 49/50) with exported
 * CPU ≥ 0.8 × its burn, and the agent's `cgroup_metrics_final_readings_sources_total{source}`
 * summing to the number of containers (other tasks' stops in the -v log are named in the
 * failure). containerd's /v1/metrics is printed beside, and asserted to catch at most half.
 *
 * Needs root, the host's cgroups, containerd, runc, docker.io, busybox-static and .peers/
 * (Prometheus): `bash scripts/install-peers.sh`. Missing pieces fail with a message naming them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess, CLI, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort, sampleValue, startPrometheus, type PrometheusPeer } from '../helpers/peers.ts';
import {
  CAPTURE_CPU_SHARE,
  calibrateBurn,
  makeBusyboxRootfs,
  pool,
  randomSuffix,
  shortBurnSeconds,
  startContainerd,
  tally,
  startDockerd,
  type BurnCalibration,
  type BusyboxRootfs,
  type CmdResult,
  type Containerd,
  type Dockerd,
} from '../helpers/runtimes.ts';

const SCRAPE_INTERVAL_S = 15;
const CONCURRENCY = 8;
const CTR_CONTAINERS = 200;
const DOCKER_CONTAINERS = 50;
/** At least 99 % with their final CPU: 198/200 and 49/50 (issue 14's bounds, the README's figures). */
const CTR_WITH_CPU_AT_LEAST = 198;
const DOCKER_WITH_CPU_AT_LEAST = 49;
/** containerd's own /v1/metrics: at most half caught, as at 1 s (containerd.test.ts, docker.test.ts). */
const containerdAtMost = (n: number): number => n / 2;
/** The agent's job in Prometheus (the first target); containerd's /v1/metrics is job "test_1". */
const AGENT_JOB = 'test';
const SOURCES = ['read', 'young', 'periodic', 'none'] as const;
type Source = (typeof SOURCES)[number];

interface Run {
  id: string;
  burnS: number;
  result: CmdResult;
}

interface Stop {
  namespace: string;
  id: string;
  trigger: string;
  source: Source;
  /** Read by the events thread at `populated 0` (the log says how long its reads took, ms). */
  eventsThreadMs?: number;
}

/** Every `task NS/ID stopped (TRIGGER): final reading SOURCE` line of the agent's -v log, the source as the self counter names it. */
function stopsLogged(agent: AgentProcess): Stop[] {
  const out: Stop[] = [];
  const re = /^otel-cgroup-metrics: task ([^/\s]+)\/(\S+) stopped \((\w+)\): final reading (read|none|last-known \((young|periodic)\))/;
  for (const l of agent.stderrLines()) {
    const m = re.exec(l);
    const thread = / \(read by the events thread in ([\d.]+) ms\)$/.exec(l);
    if (m)
      out.push({
        namespace: m[1] as string,
        id: m[2] as string,
        trigger: m[3] as string,
        source: (m[5] ?? m[4]) as Source,
        ...(thread ? { eventsThreadMs: Number(thread[1]) } : {}),
      });
  }
  return out;
}

/** How many final readings the events thread read at `populated 0`, and how long its reads took. */
function threadRead(stops: readonly Stop[]): string {
  const ms = stops.flatMap((s) => (s.eventsThreadMs === undefined ? [] : [s.eventsThreadMs])).sort((a, b) => a - b);
  if (ms.length === 0) return 'none read by the events thread';
  return `${ms.length} read by the events thread, its reads ${ms[Math.floor(ms.length / 2)]?.toFixed(2)} ms median, ${ms.at(-1)?.toFixed(2)} ms max`;
}

/** The agent's self counter as Prometheus last scraped it, by source. */
async function sourceCounters(prom: PrometheusPeer): Promise<Record<Source, number>> {
  const v = await prom.query(`cgroup_metrics_final_readings_sources_total{job="${AGENT_JOB}"}`);
  const out: Record<Source, number> = { read: 0, young: 0, periodic: 0, none: 0 };
  for (const s of v) {
    const src = s.metric.source as Source;
    assert.ok(SOURCES.includes(src), `unknown source ${JSON.stringify(s.metric.source)} on ${JSON.stringify(s.metric)}`);
    out[src] = sampleValue(s);
  }
  assert.ok(v.length === SOURCES.length, `cgroup_metrics_final_readings_sources_total: ${v.length} series, expected one per source: ${JSON.stringify(v)}`);
  return out;
}

/** Waits for a scrape of the agent that began after `afterMs` (and a moment for its samples to be committed). */
async function scrapedAfter(prom: PrometheusPeer, afterMs: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = (await prom.targets()).find((x) => x.labels.job === AGENT_JOB);
    if (t && Date.parse(t.lastScrape) > afterMs) {
      assert.equal(t.health, 'up', `the agent's scrape after the run failed: ${t.lastError}`);
      await sleep(1_000);
      return;
    }
    if (Date.now() > deadline)
      assert.fail(`no scrape of the agent began after ${new Date(afterMs).toISOString()} within ${timeoutMs} ms: ${JSON.stringify(t)}`);
    await sleep(250);
  }
}

/**
 * After the runs: waits (up to 25 s: the rescan backstop is 10 s) until the agent has logged the
 * stop of every container, then for the next scrape; then reads both sides from Prometheus,
 * prints the row, and asserts.
 */
async function checkCapture(opts: {
  label: string;
  agent: AgentProcess;
  prom: PrometheusPeer;
  runs: Run[];
  /** The containers' namespace, as the agent's container_namespace and containerd's namespace label. */
  namespace: string;
  runMs: number;
  testStart: number;
  withCpuAtLeast: number;
}): Promise<void> {
  const { label, agent, prom, runs, namespace, withCpuAtLeast } = opts;
  const n = runs.length;
  const ids = new Set(runs.map((r) => r.id));
  const ours = (): Stop[] => stopsLogged(agent).filter((s) => s.namespace === namespace && ids.has(s.id));
  const t0 = Date.now();
  while (new Set(ours().map((s) => s.id)).size < n && Date.now() - t0 < 25_000) await sleep(250);
  const stopsAt = Date.now();
  await scrapedAfter(prom, stopsAt, 2 * SCRAPE_INTERVAL_S * 1000 + 10_000);
  const waitMs = Date.now() - t0;

  const windowS = Math.ceil((Date.now() - opts.testStart) / 1000) + 60;
  const oursQ = `sum by (container_id) (max_over_time(container_cpu_time_seconds_total{job="${AGENT_JOB}",container_namespace="${namespace}"}[${windowS}s]))`;
  const theirsQ = `max by (container_id) (max_over_time(container_cpu_total_nanoseconds{namespace="${namespace}"}[${windowS}s]))`;
  const oursCpu = new Map((await prom.query(oursQ)).map((s) => [s.metric.container_id as string, sampleValue(s)]));
  const theirsCpu = new Map((await prom.query(theirsQ)).map((s) => [s.metric.container_id as string, sampleValue(s) / 1e9]));
  const present = (m: Map<string, number>): number => runs.filter((r) => m.has(r.id)).length;
  const withCpu = (m: Map<string, number>): number => runs.filter((r) => (m.get(r.id) ?? 0) >= CAPTURE_CPU_SHARE * r.burnS).length;
  const counters = await sourceCounters(prom);
  const counted = SOURCES.reduce((a, s) => a + counters[s], 0);
  const all = stopsLogged(agent);
  const mine = ours();
  const byId = new Map(mine.map((s) => [s.id, s]));
  const foreign = all.filter((s) => !(s.namespace === namespace && ids.has(s.id)));
  const short = (id: string): string => (id.length > 16 ? id.slice(0, 12) : id);

  console.log(
    `${label}, scrape ${SCRAPE_INTERVAL_S} s: present ours=${present(oursCpu)}/${n} containerd=${present(theirsCpu)}/${n}; ` +
      `CPU >= ${CAPTURE_CPU_SHARE} x burn ours=${withCpu(oursCpu)}/${n} containerd=${withCpu(theirsCpu)}/${n}`,
  );
  console.log(
    `  sources (self counter): ${SOURCES.map((s) => `${s}=${counters[s]}`).join(' ')} (sum ${counted}); ` +
      `-v log, these containers (trigger/source): ${tally(mine.map((s) => `${s.trigger}/${s.source}`))} (${mine.length} logged; ` +
      `${threadRead(mine)})` +
      (foreign.length > 0 ? `; other tasks' stops logged: ${foreign.length}` : ''),
  );
  console.log(
    `  ${n} containers, ${CONCURRENCY} at a time, burns 0.05-0.50 s: run ${(opts.runMs / 1000).toFixed(1)} s, then ${(waitMs / 1000).toFixed(1)} s to the scrape after the last stop; test ${((Date.now() - opts.testStart) / 1000).toFixed(1)} s`,
  );

  const describeMiss = (r: Run): string =>
    `${short(r.id)} (burn ${r.burnS.toFixed(2)} s, exported ${oursCpu.get(r.id)?.toFixed(3) ?? 'nothing'}, agent: ${byId.has(r.id) ? `${byId.get(r.id)?.trigger}/${byId.get(r.id)?.source}` : 'no stop logged'})`;
  const absent = runs.filter((r) => !oursCpu.has(r.id));
  assert.equal(absent.length, 0, `${absent.length}/${n} containers have no series at all: ${absent.slice(0, 10).map(describeMiss).join('; ')}`);
  const low = runs.filter((r) => !((oursCpu.get(r.id) ?? 0) >= CAPTURE_CPU_SHARE * r.burnS));
  assert.ok(
    n - low.length >= withCpuAtLeast,
    `only ${n - low.length}/${n} containers were exported with CPU >= ${CAPTURE_CPU_SHARE} x burn (at least ${withCpuAtLeast} expected); missed: ${low.slice(0, 10).map(describeMiss).join('; ')}`,
  );
  assert.equal(
    counted,
    n,
    `cgroup_metrics_final_readings_sources_total sums to ${counted} (${JSON.stringify(counters)}), not ${n}: ` +
      `${mine.length} of these containers' stops logged; other tasks' stops logged: ${foreign.length}${
        foreign.length
          ? ` (e.g. ${foreign
              .slice(0, 5)
              .map((s) => `${s.namespace}/${short(s.id)}`)
              .join(', ')}: run the test alone)`
          : ''
      }`,
  );
  assert.ok(
    withCpu(theirsCpu) <= containerdAtMost(n),
    `containerd's /v1/metrics caught ${withCpu(theirsCpu)}/${n}: more than the README's ${containerdAtMost(n)}`,
  );
}

/**
 * A fresh agent (-v, discovery bounded by `layoutArgs`) and a Prometheus scraping it and
 * containerd's /v1/metrics every 15 s, both up.
 */
async function agentAndPrometheus(
  ctrd: Containerd,
  stopLater: Array<() => Promise<void>>,
  layoutArgs: string[],
): Promise<{ agent: AgentProcess; prom: PrometheusPeer }> {
  const port = await freePort();
  const agent = new AgentProcess(['-v', ...layoutArgs, '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)]);
  stopLater.push(() => agent.stop());
  await agent.prometheusUrl();
  const prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`, ctrd.metricsUrl], scrapeIntervalS: SCRAPE_INTERVAL_S });
  stopLater.push(() => prom.stop());
  // The first scrape of each target comes within one interval (at an offset Prometheus picks).
  await prom.waitForSeries('count(up == 1) == 2', undefined, SCRAPE_INTERVAL_S * 1000 + 30_000);
  return { agent, prom };
}

describe(`capture at a ${SCRAPE_INTERVAL_S} s scrape interval, real containerd and dockerd`, { timeout: 600_000 }, () => {
  let ctrd: Containerd;
  let rootfs: BusyboxRootfs;
  let cal: BurnCalibration;
  let dockerd: Dockerd | undefined;
  const suffix = randomSuffix();
  const stopLater: Array<() => Promise<void>> = [];
  const fileStart = Date.now();

  before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    ctrd = await startContainerd();
    rootfs = await makeBusyboxRootfs();
    cal = await calibrateBurn();
    console.log(`burn calibration: ${cal.nsPerIteration.toFixed(0)} ns of CPU per loop iteration; 0.05 s = ${cal.iterations(0.05)} iterations`);
  });

  after(async () => {
    await stopAllAgents();
    for (const s of stopLater.reverse()) await s().catch(() => undefined);
    await dockerd?.stop();
    await ctrd?.stop();
    await rootfs?.remove();
    console.log(`capture.test.ts: ${((Date.now() - fileStart) / 1000).toFixed(1)} s in all`);
  });

  it(`containerd: every one of ${CTR_CONTAINERS} short ctr run --rm containers has a series, ${CTR_WITH_CPU_AT_LEAST} with their final CPU; the self counter accounts for all`, {
    timeout: 300_000,
  }, async () => {
    const testStart = Date.now();
    const ns = `ocm-cap-${suffix}`;
    // This namespace only (a custom layout, the containerd layout's shape): the self counters
    // count these containers alone, even where other tests make cgroups on the host.
    const { agent, prom } = await agentAndPrometheus(ctrd, stopLater, ['--layouts=', '--layout-pattern', `^/(?<namespace>${ns})/(?<id>[^/]+)$`]);
    try {
      const t0 = Date.now();
      const runs: Run[] = await pool(
        Array.from({ length: CTR_CONTAINERS }, (_, i) => i),
        CONCURRENCY,
        async (i) => {
          const id = `burn-${String(i).padStart(3, '0')}`;
          const burnS = shortBurnSeconds(i);
          const result = await ctrd.ctr(['-n', ns, 'run', '--rm', '--rootfs', rootfs.root, id, '/bin/sh', '-c', cal.script(burnS)], { timeoutMs: 60_000 });
          return { id, burnS, result };
        },
      );
      const runMs = Date.now() - t0;
      const failed = runs.filter((r) => r.result.code !== 0);
      assert.equal(failed.length, 0, `ctr run failed for ${failed.length} container(s), e.g. ${failed[0]?.id}: ${failed[0]?.result.stderr}`);
      await checkCapture({
        label: `containerd, ${CTR_CONTAINERS} ctr run --rm`,
        agent,
        prom,
        runs,
        namespace: ns,
        runMs,
        testStart,
        withCpuAtLeast: CTR_WITH_CPU_AT_LEAST,
      });
    } finally {
      // Not left running beside the next test: their load would be its noise.
      await agent.stop();
      await prom.stop();
    }
  });

  it(`dockerd: every one of ${DOCKER_CONTAINERS} short docker run --rm containers has a series, ${DOCKER_WITH_CPU_AT_LEAST} with their final CPU; the self counter accounts for all`, {
    timeout: 300_000,
  }, async () => {
    const testStart = Date.now();
    dockerd = await startDockerd({ containerdSocket: ctrd.socket, rootfs: rootfs.root });
    const dockerStartMs = Date.now() - testStart;
    const tmp = fs.mkdtempSync(path.join(ctrd.dir, 'cid-'));
    // Docker's layout only: no other runtime's tasks in the self counters.
    const { agent, prom } = await agentAndPrometheus(ctrd, stopLater, ['--layouts=docker']);
    try {
      const t0 = Date.now();
      const d = dockerd;
      const runs: Run[] = await pool(
        Array.from({ length: DOCKER_CONTAINERS }, (_, i) => i),
        CONCURRENCY,
        async (i) => {
          const cidfile = path.join(tmp, `c${i}`);
          const burnS = shortBurnSeconds(i);
          const result = await d.docker(['run', '--rm', '--cidfile', cidfile, d.image, '/bin/sh', '-c', cal.script(burnS)], { timeoutMs: 120_000 });
          const id = fs.existsSync(cidfile) ? fs.readFileSync(cidfile, 'utf8').trim() : '';
          return { id, burnS, result };
        },
      );
      const runMs = Date.now() - t0;
      const failed = runs.filter((r) => r.result.code !== 0 || !/^[0-9a-f]{64}$/.test(r.id));
      assert.equal(failed.length, 0, `docker run failed for ${failed.length} container(s): ${failed[0]?.result.stderr} (id ${JSON.stringify(failed[0]?.id)})`);
      console.log(`dockerd started in ${(dockerStartMs / 1000).toFixed(1)} s`);
      await checkCapture({
        label: `dockerd, ${DOCKER_CONTAINERS} docker run --rm`,
        agent,
        prom,
        runs,
        namespace: 'moby',
        runMs,
        testStart,
        withCpuAtLeast: DOCKER_WITH_CPU_AT_LEAST,
      });
    } finally {
      await agent.stop();
      await prom.stop();
    }
  });
});
