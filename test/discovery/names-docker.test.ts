/**
 * Names on the series, end to end, against a real dockerd (docker.io 20.10 on the test's own
 * containerd, busybox imported as `local/busybox` and tagged `local/busybox:1.36`): the built
 * agent (`--layouts docker --runtime-socket docker=<this dockerd's socket>`) is scraped and the
 * Prometheus text is checked with exact values.
 *
 * - `docker run --name --label`: container_name (no leading /), container_image_name, the tag
 *   (a string array, rendered by the exporter as JSON text), container_runtime_name; runtime
 *   labels only when allow-listed (`--container-label team`).
 * - The final reading of a short `docker run --rm` container carries its name and image.
 * - The Docker socket missing, or hanging (a unix server that accepts and never answers):
 *   series flow with the ids alone, the errors are counted by type, the log is rate-limited,
 *   and scrapes take as long as with a working socket (medians printed).
 * - An agent restart: uptime and the cumulative start time (OTLP startTimeUnixNano) stay
 *   docker's State.StartedAt, not the new agent's discovery.
 * - Lookup latency: `docker run -d` returning → first scrape showing container_name (p50/p99
 *   printed, with the agent's own discovery → named figures).
 *
 * Needs root, docker.io, containerd, runc, busybox-static and .peers/ (the OTLP .proto files):
 * `bash scripts/install-peers.sh`. Missing pieces fail with a message naming them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { AgentProcess, CLI, OtlpReceiver, httpGet, pointsOf, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { REPO_ROOT, freePort } from '../helpers/peers.ts';
import {
  type BusyboxRootfs,
  type Containerd,
  type Dockerd,
  type ExpositionSample,
  calibrateBurn,
  makeBusyboxRootfs,
  parseExposition,
  randomSuffix,
  startContainerd,
  startDockerd,
} from '../helpers/runtimes.ts';

const IMAGE = 'local/busybox';
const TAG = '1.36';
/** How the Prometheus exporter renders the string array `container.image.tags = ['1.36']`. */
const TAGS_LABEL = JSON.stringify([TAG]);
const VERSION = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NAMED_WITHIN_MS = 10_000;

interface Scrape {
  /** performance.now() when the request was sent and when the page was in. */
  sentAt: number;
  doneAt: number;
  /** Date.now() half-way through the request: when the page was collected, to a few ms. */
  wallAt: number;
  ms: number;
  samples: ExpositionSample[];
}

async function scrape(url: string): Promise<Scrape> {
  const wall0 = Date.now();
  const sentAt = performance.now();
  const res = await httpGet(url);
  const doneAt = performance.now();
  const wall1 = Date.now();
  assert.equal(res.status, 200, `GET ${url}: ${res.status} ${res.body.slice(0, 300)}`);
  return { sentAt, doneAt, wallAt: (wall0 + wall1) / 2, ms: doneAt - sentAt, samples: parseExposition(res.body) };
}

/** The samples of `name` for container `id`. */
function seriesOf(s: Scrape, name: string, id: string): ExpositionSample[] {
  return s.samples.filter((x) => x.name === name && x.labels.container_id === id);
}

function one(s: Scrape, name: string, id: string, more: Record<string, string> = {}): ExpositionSample {
  const xs = seriesOf(s, name, id).filter((x) => Object.entries(more).every(([k, v]) => x.labels[k] === v));
  assert.equal(xs.length, 1, `${xs.length} samples of ${name} for ${id.slice(0, 12)} ${JSON.stringify(more)}`);
  return xs[0] as ExpositionSample;
}

function selfValue(s: Scrape, name: string, labels: Record<string, string>): number {
  const xs = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return xs.reduce((a, x) => a + x.value, 0);
}

function named(s: Scrape, id: string): boolean {
  return seriesOf(s, 'container_uptime_seconds', id).some((x) => x.labels.container_name !== undefined);
}

/** Scrapes every `everyMs` until `done(scrape)`; fails after `timeoutMs` with `what`. */
async function scrapeUntil(url: string, done: (s: Scrape) => boolean, what: string, timeoutMs = NAMED_WITHIN_MS, everyMs = 50): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  let last: Scrape | undefined;
  for (;;) {
    last = await scrape(url);
    if (done(last)) return last;
    if (Date.now() > deadline) {
      const ours = last.samples.filter((x) => x.name === 'container_uptime_seconds').map((x) => JSON.stringify(x.labels));
      assert.fail(`${what}: not within ${timeoutMs} ms; container_uptime_seconds on the last page: ${ours.join('\n') || 'none'}`);
    }
    await sleep(everyMs);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Nearest-rank percentile. */
function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

/** The agent's metadata error lines (rate-limited: one a minute per source). */
function metadataLogLines(agent: AgentProcess): string[] {
  return agent.stderrLines().filter((l) => /\bmetadata: docker: /.test(l));
}

describe('names on the series from a real dockerd', { timeout: 120_000 }, () => {
  let ctrd: Containerd;
  let rootfs: BusyboxRootfs;
  let dockerd: Dockerd;
  const suffix = randomSuffix();
  const web = `ocm-web-${suffix}`;
  let webId: string;
  let webStartedAtMs: number;
  const stopLater: Array<() => Promise<void>> = [];
  const fileStart = Date.now();

  /** An agent on the docker layout, naming from `socket` (default: this dockerd's), with its Prometheus URL. */
  async function agent(extra: string[] = [], socket = dockerd.socket): Promise<{ agent: AgentProcess; url: string }> {
    const port = await freePort();
    const a = new AgentProcess([
      '-v',
      '--layouts',
      'docker',
      '--runtime-socket',
      `docker=${socket}`,
      '--empty-poll-interval',
      '50',
      '--prometheus-host',
      '127.0.0.1',
      '--prometheus-port',
      String(port),
      ...extra,
    ]);
    stopLater.push(() => a.stop());
    return { agent: a, url: await a.prometheusUrl() };
  }

  before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    ctrd = await startContainerd();
    rootfs = await makeBusyboxRootfs();
    dockerd = await startDockerd({ containerdSocket: ctrd.socket, rootfs: rootfs.root });
    await dockerd.dockerOk(['tag', IMAGE, `${IMAGE}:${TAG}`]);
    webId = (await dockerd.dockerOk(['run', '-d', '--name', web, '--label', 'team=checkout', '--label', 'secret=x', `${IMAGE}:${TAG}`, 'sleep', '90'])).trim();
    assert.match(webId, /^[0-9a-f]{64}$/);
    const startedAt = (await dockerd.dockerOk(['inspect', '--format', '{{.State.StartedAt}}', webId])).trim();
    webStartedAtMs = Date.parse(startedAt);
    assert.ok(Number.isFinite(webStartedAtMs), `docker inspect State.StartedAt ${JSON.stringify(startedAt)}`);
  });

  after(async () => {
    await stopAllAgents();
    for (const s of stopLater.reverse()) await s().catch(() => undefined);
    await dockerd?.stop();
    await ctrd?.stop();
    await rootfs?.remove();
    console.log(`names-docker.test.ts: ${((Date.now() - fileStart) / 1000).toFixed(1)} s in all`);
  });

  it('docker run --name --label: name, image, tag and runtime on the series; labels only when allow-listed', async () => {
    const [plain, allow] = await Promise.all([agent(), agent(['--container-label', 'team'])]);
    const p = await scrapeUntil(plain.url, (s) => named(s, webId), `${web} named (no allow-list)`);
    const expected = {
      container_id: webId,
      container_namespace: 'moby',
      container_name: web,
      container_image_name: IMAGE,
      container_image_tags: TAGS_LABEL,
      container_runtime_name: 'docker',
      otel_scope_name: 'otel-cgroup-metrics',
      otel_scope_version: VERSION,
    };
    // Every label of the series, exactly: no container_label_* without an allow-list.
    assert.deepEqual(one(p, 'container_cpu_time_seconds_total', webId, { cpu_mode: 'user' }).labels, { ...expected, cpu_mode: 'user' });
    assert.deepEqual(one(p, 'container_uptime_seconds', webId).labels, expected);
    for (const x of p.samples.filter((x) => x.labels.container_id === webId)) {
      assert.equal(x.labels.container_name, web, `${x.name} ${JSON.stringify(x.labels)}`);
      assert.deepEqual(
        Object.keys(x.labels).filter((k) => k.startsWith('container_label_')),
        [],
        x.name,
      );
    }

    const a = await scrapeUntil(allow.url, (s) => named(s, webId), `${web} named (--container-label team)`);
    assert.deepEqual(one(a, 'container_uptime_seconds', webId).labels, { ...expected, container_label_team: 'checkout' });
    for (const x of a.samples.filter((x) => x.labels.container_id === webId)) {
      assert.equal(x.labels.container_label_team, 'checkout', x.name);
      assert.equal(x.labels.container_label_secret, undefined, x.name);
    }
    assert.match(plain.agent.stderr, new RegExp(`task moby/${webId} named in [0-9.]+ ms`));
  });

  it('the final reading of a short docker run --rm container carries its name and image', async () => {
    const cal = await calibrateBurn();
    const burnS = 0.3;
    const { agent: a, url } = await agent();
    const short = `ocm-short-${suffix}`;
    const cidfile = path.join(ctrd.dir, `short-${suffix}.cid`);
    const pages: Scrape[] = [];
    let running = true;
    const scraper = (async () => {
      while (running) {
        pages.push(await scrape(url));
        await sleep(50);
      }
    })();
    let id = '';
    try {
      const r = await dockerd.docker(['run', '--rm', '--cidfile', cidfile, '--name', short, `${IMAGE}:${TAG}`, '/bin/sh', '-c', cal.script(burnS)]);
      assert.equal(r.code, 0, `docker run --rm: ${r.stderr}`);
      id = fs.readFileSync(cidfile, 'utf8').trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      await a.waitForStderr(new RegExp(`task moby/${id} stopped \\(\\w+\\): final reading`), 10_000);
      // The final reading goes out with the next scrape; a few more show that it went once.
      const n = pages.length;
      while (pages.length < n + 4) await sleep(50);
    } finally {
      running = false;
      await scraper;
    }
    const withIt = pages.map((s, i) => ({ s, i })).filter(({ s }) => seriesOf(s, 'container_cpu_time_seconds_total', id).length > 0);
    assert.ok(withIt.length > 0, `no scrape of ${pages.length} showed ${id.slice(0, 12)}; agent log:\n${a.stderr}`);
    const last = withIt[withIt.length - 1] as { s: Scrape; i: number };
    assert.ok(last.i < pages.length - 1, 'the container is still on the last page: no final reading seen');
    const final = last.s;
    const cpu = seriesOf(final, 'container_cpu_time_seconds_total', id).reduce((t, x) => t + x.value, 0);
    // The final one: the agent took it at stop (or, having lost the race with the runtime's rmdir,
    // sent the freshest reading it had), and it holds the most CPU any page showed.
    assert.match(a.stderr, new RegExp(`task moby/${id} stopped \\(\\w+\\): final reading (read|last-known)`));
    const most = Math.max(...withIt.map(({ s }) => seriesOf(s, 'container_cpu_time_seconds_total', id).reduce((t, x) => t + x.value, 0)));
    assert.equal(cpu, most, `the last reading (${cpu.toFixed(3)} s of CPU) holds the most CPU shown (${most.toFixed(3)} s)`);
    for (const x of final.samples.filter((x) => x.labels.container_id === id)) {
      assert.equal(x.labels.container_name, short, `${x.name} ${JSON.stringify(x.labels)}`);
      assert.equal(x.labels.container_image_name, IMAGE, x.name);
      assert.equal(x.labels.container_image_tags, TAGS_LABEL, x.name);
      assert.equal(x.labels.container_runtime_name, 'docker', x.name);
    }
    console.log(
      `short --rm container: ${withIt.length} of ${pages.length} scrapes showed it; final reading ${cpu.toFixed(3)} s CPU (burn ${burnS} s), named ${short}`,
    );
  });

  it('docker socket missing or hanging: ids only, errors counted, log rate-limited, scrapes as fast', async () => {
    const hangDir = fs.mkdtempSync(path.join(ctrd.dir, 'hang-'));
    const hangSocket = path.join(hangDir, 'docker.sock');
    const accepted = new Set<net.Socket>();
    let connections = 0;
    const hang = net.createServer((s) => {
      connections++;
      accepted.add(s);
      s.on('error', () => undefined);
      s.once('close', () => accepted.delete(s));
      s.resume(); // read the request, answer nothing
    });
    await new Promise<void>((resolve, reject) => {
      hang.once('error', reject);
      hang.listen(hangSocket, () => resolve());
    });
    stopLater.push(async () => {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => hang.close(() => resolve()));
    });

    const [working, missing, hanging] = await Promise.all([agent(), agent([], '/nonexistent/docker.sock'), agent(['--metadata-timeout', '300'], hangSocket)]);
    await scrapeUntil(working.url, (s) => named(s, webId), `${web} named by the working agent`);
    const errors = (s: Scrape, type: string): number => selfValue(s, 'cgroup_metrics_metadata_errors_total', { metadata_source: 'docker', error_type: type });
    // Several failed tries each (backoff from 250 ms), so that the log's rate limit shows.
    await scrapeUntil(missing.url, (s) => errors(s, 'unavailable') >= 3, 'missing socket: 3 unavailable errors counted');
    await scrapeUntil(hanging.url, (s) => errors(s, 'timeout') >= 3, 'hanging socket: 3 timeout errors counted');

    // Alternating scrapes of the working and the hanging agent while the hanging one keeps trying.
    for (let i = 0; i < 2; i++) await Promise.all([scrape(working.url), scrape(hanging.url)]);
    const okMs: number[] = [];
    const hangMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const first = i % 2 === 0;
      if (first) okMs.push((await scrape(working.url)).ms);
      hangMs.push((await scrape(hanging.url)).ms);
      if (!first) okMs.push((await scrape(working.url)).ms);
      await sleep(40);
    }
    const okMedian = median(okMs);
    const hangMedian = median(hangMs);
    console.log(`scrape median over 20: working socket ${okMedian.toFixed(2)} ms, hanging socket ${hangMedian.toFixed(2)} ms`);
    assert.ok(hangMedian <= 2 * okMedian + 20, `scrapes with a hanging socket: median ${hangMedian.toFixed(2)} ms vs ${okMedian.toFixed(2)} ms working`);

    for (const [what, a, type] of [
      ['missing socket', missing, 'unavailable'],
      ['hanging socket', hanging, 'timeout'],
    ] as const) {
      const s = await scrape(a.url);
      const uptime = one(s, 'container_uptime_seconds', webId);
      assert.deepEqual(
        uptime.labels,
        {
          container_id: webId,
          container_namespace: 'moby',
          // From the cgroup layout (/docker/<id>), not from the runtime.
          container_runtime_name: 'docker',
          otel_scope_name: 'otel-cgroup-metrics',
          otel_scope_version: VERSION,
        },
        `${what}: the series carry the ids alone (and the layout's runtime)`,
      );
      assert.ok(seriesOf(s, 'container_cpu_time_seconds_total', webId).length > 0, `${what}: CPU series flow`);
      for (const x of s.samples.filter((x) => x.labels.container_id === webId)) assert.equal(x.labels.container_name, undefined, `${what}: ${x.name}`);
      const n = errors(s, type);
      const logLines = metadataLogLines(a.agent);
      console.log(`${what}: ${n} ${type} errors counted, ${logLines.length} metadata log line(s): ${logLines[0] ?? ''}`);
      assert.ok(n >= 3, `${what}: ${n} ${type} errors`);
      assert.ok(logLines.length >= 1 && logLines.length <= 2, `${what}: ${logLines.length} metadata log lines for ${n} errors:\n${logLines.join('\n')}`);
      assert.ok(
        logLines.every((l) => l.includes(`[${type}]`)),
        logLines.join('\n'),
      );
      // Uptime from the cgroup's oldest process (no runtime answers): within the second of the boot time.
      assert.ok(Math.abs(s.wallAt / 1000 - uptime.value - webStartedAtMs / 1000) <= 1.5, `${what}: uptime ${uptime.value} s`);
    }
    assert.ok(connections >= 3, `the hanging server saw ${connections} connections`);
    const w = await scrape(working.url);
    assert.equal(errors(w, 'timeout') + errors(w, 'unavailable') + errors(w, 'protocol'), 0, 'the working agent counted errors');
  });

  it('an agent restart moves neither uptime nor the cumulative start time', async () => {
    // Let the container be visibly older than the new agent's discovery.
    const age = Date.now() - webStartedAtMs;
    if (age < 3_000) await sleep(3_000 - age);
    const rx = await OtlpReceiver.start();
    stopLater.push(() => rx.close());
    const otlp = ['--exporter', 'prometheus,otlp', '--otlp-endpoint', rx.url, '--interval', '500'];
    /** startTimeUnixNano of the named container.cpu.time points of `id` in requests from index `from`. */
    const namedStarts = (from: number): bigint[] =>
      rx.requests
        .slice(from)
        .filter((r) => r.ok)
        .flatMap((r) => pointsOf(r.body, 'container.cpu.time'))
        .filter((pt) => pt.attributes['container.id'] === webId && pt.attributes['container.name'] === web)
        .map((pt) => pt.startTimeUnixNano);

    const a = await agent(otlp);
    const sA = await scrapeUntil(a.url, (s) => named(s, webId), 'agent A names the container');
    const uA = one(sA, 'container_uptime_seconds', webId).value;
    await rx.waitFor(() => namedStarts(0).length > 0, 10_000, 'a named container.cpu.time point from agent A');
    a.agent.child.kill('SIGTERM');
    const exitA = await a.agent.waitForExit(15_000);
    assert.equal(exitA.code, 0, `agent A exit: ${JSON.stringify(exitA)}\n${a.agent.stderr}`);
    const startsA = namedStarts(0);
    const fromB = rx.requests.length;

    const b = await agent(otlp);
    // B's first page with the container, named or not yet: its uptime is not B's discovery.
    const sB0 = await scrapeUntil(b.url, (s) => seriesOf(s, 'container_uptime_seconds', webId).length > 0, 'agent B shows the container', 10_000, 20);
    const uB0 = one(sB0, 'container_uptime_seconds', webId).value;
    const sB = await scrapeUntil(b.url, (s) => named(s, webId), 'agent B names the container');
    const uB = one(sB, 'container_uptime_seconds', webId).value;
    await rx.waitFor(() => namedStarts(fromB).length > 0, 10_000, 'a named container.cpu.time point from agent B', fromB);
    const startsB = namedStarts(fromB);

    const expectB = uA + (sB.wallAt - sA.wallAt) / 1000;
    const expectB0 = uA + (sB0.wallAt - sA.wallAt) / 1000;
    const startA = sA.wallAt - uA * 1000;
    console.log(
      `restart: A uptime ${uA.toFixed(3)} s; B ${((sB.wallAt - sA.wallAt) / 1000).toFixed(3)} s later: uptime ${uB.toFixed(3)} s ` +
        `(expected ${expectB.toFixed(3)}, delta ${(uB - expectB).toFixed(3)} s; first unnamed page delta ${(uB0 - expectB0).toFixed(3)} s); ` +
        `start vs docker StartedAt ${(startA - webStartedAtMs).toFixed(0)} ms; OTLP start A ${startsA[0]} B ${startsB[0]}`,
    );
    assert.ok(Math.abs(uB - expectB) <= 1.5, `B's uptime ${uB} s, expected A's ${uA} s + elapsed = ${expectB.toFixed(3)} s`);
    assert.ok(Math.abs(uB0 - expectB0) <= 1.5, `B's first uptime ${uB0} s, expected ${expectB0.toFixed(3)} s`);
    assert.ok(
      Math.abs(startA - webStartedAtMs) <= 1_000,
      `start from A's uptime ${new Date(startA).toISOString()} vs StartedAt ${new Date(webStartedAtMs).toISOString()}`,
    );
    assert.ok(Math.abs(sB.wallAt - uB * 1000 - webStartedAtMs) <= 1_000, "start from B's uptime vs StartedAt");

    // The real "no counter reset" check: one cumulative start time, docker's, in A and in B.
    const ms = (ns: bigint): number => Number(ns / 1_000_000n);
    assert.deepEqual([...new Set(startsA.map(ms))], [webStartedAtMs], `A's start times (ms) vs StartedAt ${webStartedAtMs}`);
    assert.deepEqual([...new Set(startsB.map(ms))], [webStartedAtMs], `B's start times (ms) vs StartedAt ${webStartedAtMs}`);
  });

  it('lookup latency: docker run -d returning → container_name on the page, 10 containers', async () => {
    const { agent: a, url } = await agent();
    const n = 10;
    const returnedAt = new Map<string, number>();
    const namedAt = new Map<string, number>();
    const ids: string[] = [];
    let running = true;
    const scraper = (async () => {
      while (running) {
        const s = await scrape(url);
        for (const id of returnedAt.keys()) if (!namedAt.has(id) && named(s, id)) namedAt.set(id, s.sentAt);
        // A page asked for before `docker run` returned may already have the name.
        for (const x of s.samples) {
          if (x.name !== 'container_uptime_seconds' || !x.labels.container_name?.startsWith(`ocm-lat-${suffix}-`)) continue;
          const id = x.labels.container_id as string;
          if (!returnedAt.has(id) && !namedAt.has(id)) namedAt.set(id, s.sentAt);
        }
        await sleep(50);
      }
    })();
    try {
      for (let i = 0; i < n; i++) {
        const id = (await dockerd.dockerOk(['run', '-d', '--name', `ocm-lat-${suffix}-${i}`, `${IMAGE}:${TAG}`, 'sleep', '60'])).trim();
        returnedAt.set(id, performance.now());
        ids.push(id);
      }
      const deadline = Date.now() + NAMED_WITHIN_MS;
      while (ids.some((id) => !namedAt.has(id)) && Date.now() < deadline) await sleep(50);
    } finally {
      running = false;
      await scraper;
      await dockerd.docker(['rm', '-f', ...ids], { timeoutMs: 60_000 });
    }
    const unnamed = ids.filter((id) => !namedAt.has(id));
    assert.deepEqual(unnamed, [], `not named within ${NAMED_WITHIN_MS} ms of docker run`);
    const latencies = ids.map((id) => (namedAt.get(id) as number) - (returnedAt.get(id) as number));
    const agentMs = ids.map((id) => {
      const m = new RegExp(`task moby/${id} named in ([0-9.]+) ms`).exec(a.stderr);
      assert.ok(m, `no 'named in' line for ${id.slice(0, 12)}`);
      return Number(m[1]);
    });
    console.log(
      `lookup latency, docker run -d returned → first scrape (every 50 ms) with container_name, ${n} containers: ` +
        `p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms ` +
        `(each: ${latencies.map((x) => x.toFixed(0)).join(' ')}); agent's discovery → named: p50 ${percentile(agentMs, 50).toFixed(1)} ms, ` +
        `p99 ${percentile(agentMs, 99).toFixed(1)} ms`,
    );
    assert.ok(percentile(latencies, 99) <= 2_000, `p99 ${percentile(latencies, 99).toFixed(0)} ms`);
  });
});
