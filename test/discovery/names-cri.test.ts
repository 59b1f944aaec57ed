/**
 * Names on the series, end to end: the built agent discovers real containers by their cgroup
 * layout, asks the runtime's own API who they are, and its Prometheus page carries the names.
 *
 * - containerd's CRI plugin, driven as kubelet drives it (test/helpers/cri.ts: RunPodSandbox with
 *   host networking and a kubepods cgroup parent, CreateContainer, StartContainer): a pod
 *   container's series carry the pod name, namespace, uid, container name, image, tag and
 *   runtime; its uptime is counted from the CRI's started_at; the pod sandbox is exported only
 *   with --keep-sandboxes; a short-lived container's final reading carries all of its names.
 * - plain containerd (`ctr run -d --label …` from an imported image): image name and tag, and
 *   only the allow-listed label.
 * - lookup latency: StartContainer returning → the first scrape (every 50 ms) with the pod's name.
 *
 * Needs root, cgroups, containerd, runc and busybox-static (`bash scripts/install-peers.sh`); a
 * missing piece fails with a message naming it, never a skip. Pods, containers, agents, daemons
 * and cgroups started here are torn down in after(), also when a test fails (and, as a last
 * resort, when the process exits).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { BUSYBOX_IMAGE, buildImageArchive, type CriContainerd, type RunningPod, startCriContainerd } from '../helpers/cri.ts';
import { AgentProcess, CLI, httpGet, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort } from '../helpers/peers.ts';
import {
  type BurnCalibration,
  type BusyboxRootfs,
  type Containerd,
  calibrateBurn,
  type ExpositionSample,
  makeBusyboxRootfs,
  parseExposition,
  randomSuffix,
  startContainerd,
} from '../helpers/runtimes.ts';

const CPU = 'container_cpu_time_seconds_total';
const UPTIME = 'container_uptime_seconds';
/** The tag of BUSYBOX_IMAGE, as the Prometheus page renders `container.image.tags` (a string array). */
const TAG_RENDERED = '["1.36"]';
const BURN_S = 0.3;
const LATENCY_CONTAINERS = 10;
const SCRAPE_EVERY_MS = 50;
/** How far the start time the agents imply may be from the CRI's started_at (a ms of rounding, a process start in 10 ms ticks, clocks). */
const START_TOLERANCE_MS = 30;

/** An agent on a free port with `args`, and its Prometheus URL once it serves. */
async function startAgent(args: string[]): Promise<{ agent: AgentProcess; url: string }> {
  const port = await freePort();
  const agent = new AgentProcess(['-v', ...args, '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)]);
  return { agent, url: await agent.prometheusUrl() };
}

async function scrape(url: string): Promise<ExpositionSample[]> {
  const r = await httpGet(url);
  assert.equal(r.status, 200, `scrape of ${url} answered ${r.status}`);
  return parseExposition(r.body);
}

function seriesOf(page: ExpositionSample[], id: string): ExpositionSample[] {
  return page.filter((s) => s.labels.container_id === id);
}

/** Scrapes every SCRAPE_EVERY_MS until `ok(page)` holds; fails after `timeoutMs` with `why(lastPage)`. */
async function scrapeUntil(
  url: string,
  ok: (page: ExpositionSample[]) => boolean,
  timeoutMs: number,
  why: (page: ExpositionSample[]) => string,
): Promise<ExpositionSample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const page = await scrape(url);
    if (ok(page)) return page;
    if (Date.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${why(page)}`);
    await sleep(SCRAPE_EVERY_MS);
  }
}

/** The labels of `id`'s series, for failure messages. */
function describeSeries(page: ExpositionSample[], id: string): string {
  const s = seriesOf(page, id).slice(0, 3);
  return s.length ? s.map((x) => `${x.name}${JSON.stringify(x.labels)}`).join('; ') : `no series of ${id}`;
}

function cpuOf(page: ExpositionSample[], id: string): number {
  return seriesOf(page, id)
    .filter((s) => s.name === CPU)
    .reduce((a, s) => a + s.value, 0);
}

/** The CRI's started_at of a container, in ms since the epoch. */
async function criStartedMs(cri: CriContainerd, id: string): Promise<number> {
  const status = await cri.call<{ status?: { started_at?: string } }>('ContainerStatus', { container_id: id });
  const ms = Number(BigInt(status.status?.started_at ?? '0') / 1_000_000n);
  assert.ok(ms > 0, `ContainerStatus of ${id} has no started_at: ${JSON.stringify(status)}`);
  return ms;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Every label of `expected` on every series of `names` for `id` (each name present). */
function assertLabels(page: ExpositionSample[], id: string, names: string[], expected: Record<string, string>): void {
  for (const name of names) {
    const series = seriesOf(page, id).filter((s) => s.name === name);
    assert.ok(series.length > 0, `no ${name} series for ${id}: ${describeSeries(page, id)}`);
    for (const s of series) {
      const got = Object.fromEntries(Object.keys(expected).map((k) => [k, s.labels[k]]));
      assert.deepEqual(got, expected, `${name}${JSON.stringify(s.labels)}`);
    }
  }
}

describe('names on the series from containerd and its CRI (the built agent, scraped)', { timeout: 150_000 }, () => {
  let cri: CriContainerd;
  let ctrd: Containerd | undefined;
  let rootfs: BusyboxRootfs | undefined;
  let cal: BurnCalibration;
  let kube: { agent: AgentProcess; url: string };
  let pod: RunningPod;
  const fileStart = Date.now();

  before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    [cri, cal] = await Promise.all([startCriContainerd(), calibrateBurn()]);
    kube = await startAgent(['--layouts', 'kubernetes', '--runtime-socket', `cri=${cri.containerd.socket}`]);
    pod = await cri.runPod({ name: 'web-0', namespace: 'shop', containers: [{ name: 'app', command: ['/bin/sleep', '600'] }] });
  });

  after(async () => {
    await stopAllAgents();
    await cri?.stop();
    await ctrd?.stop();
    await rootfs?.remove();
    console.log(`names-cri.test.ts: ${((Date.now() - fileStart) / 1000).toFixed(1)} s in all`);
  });

  it("CRI: a pod container's series carry the pod's and container's names, image, tag and runtime; uptime from the CRI's started_at", async () => {
    const app = pod.containers[0];
    assert.ok(app, 'the pod has no container');
    const expected = {
      container_id: app.id,
      k8s_pod_name: 'web-0',
      k8s_namespace_name: 'shop',
      k8s_pod_uid: pod.uid,
      k8s_container_name: 'app',
      container_name: 'app',
      container_image_name: 'ocm.test/busybox',
      container_image_tags: TAG_RENDERED,
      container_runtime_name: 'containerd',
    };
    const page = await scrapeUntil(
      kube.url,
      (p) => seriesOf(p, app.id).some((s) => s.name === UPTIME && s.labels.k8s_pod_name === 'web-0'),
      10_000,
      (p) => `${app.id} named on the page; ${describeSeries(p, app.id)}\nagent stderr:\n${kube.agent.stderr.slice(-3000)}`,
    );
    const scrapedAt = Date.now();
    assertLabels(page, app.id, [CPU, UPTIME], expected);

    const startedMs = await criStartedMs(cri, app.id);
    const uptime = seriesOf(page, app.id).find((s) => s.name === UPTIME)?.value ?? NaN;
    const wantS = (scrapedAt - startedMs) / 1000;
    console.log(`CRI: uptime ${uptime.toFixed(3)} s, now - started_at ${wantS.toFixed(3)} s`);
    assert.ok(Math.abs(uptime - wantS) <= 1.5, `container_uptime_seconds ${uptime} s, but now - CRI started_at = ${wantS.toFixed(3)} s`);
  });

  it('CRI: the pod sandbox appears in no series by default, and with --keep-sandboxes it is exported with the pod names', async () => {
    const sandbox = pod.sandboxId;
    // The default agent has looked the sandbox up and dropped it (its -v log says so).
    await kube.agent.waitForStderr(new RegExp(`task k8s\\.io/${sandbox} is a pod sandbox: not exported`), 10_000);
    const page = await scrape(kube.url);
    const inAny = page.filter((s) => Object.values(s.labels).includes(sandbox));
    assert.deepEqual(
      inAny.map((s) => `${s.name}${JSON.stringify(s.labels)}`),
      [],
      `the sandbox ${sandbox} appears in series of the default agent`,
    );
    // The app container is still there: the page is not simply empty.
    assert.ok(cpuOf(page, pod.containers[0]?.id ?? '') > 0 || seriesOf(page, pod.containers[0]?.id ?? '').length > 0, 'the app container is not on the page');

    const keep = await startAgent(['--layouts', 'kubernetes', '--runtime-socket', `cri=${cri.containerd.socket}`, '--keep-sandboxes']);
    try {
      const kept = await scrapeUntil(
        keep.url,
        (p) => seriesOf(p, sandbox).some((s) => s.name === CPU && s.labels.k8s_pod_name === 'web-0'),
        10_000,
        (p) => `the sandbox ${sandbox} named on the --keep-sandboxes page; ${describeSeries(p, sandbox)}\nagent stderr:\n${keep.agent.stderr.slice(-3000)}`,
      );
      assertLabels(kept, sandbox, [CPU], { k8s_pod_name: 'web-0', k8s_namespace_name: 'shop', k8s_pod_uid: pod.uid, container_runtime_name: 'containerd' });
      const podContainers = new Set(kept.filter((s) => s.labels.k8s_pod_uid === pod.uid).map((s) => s.labels.container_id));
      assert.ok(podContainers.has(sandbox) && podContainers.has(pod.containers[0]?.id), `--keep-sandboxes page has the pod's ${[...podContainers].join(', ')}`);

      // The agent started before the container and the one started after it (as after a restart)
      // agree on its start: the CRI's started_at, not the moment either found it.
      const app = pod.containers[0]?.id ?? '';
      const startedMs = await criStartedMs(cri, app);
      const implied = await Promise.all(
        [kube.url, keep.url].map(async (url) => {
          const t0 = Date.now();
          const page = await scrape(url);
          const t1 = Date.now();
          const uptime = seriesOf(page, app).find((s) => s.name === UPTIME)?.value ?? NaN;
          // The collection ran between t0 and t1: the start it implies is off by at most their distance.
          return { url, errMs: Math.abs((t0 + t1) / 2 - uptime * 1000 - startedMs), slackMs: (t1 - t0) / 2 };
        }),
      );
      console.log(
        `CRI start time: implied by the first agent / the later one: ${implied.map((x) => `${x.errMs.toFixed(1)} ms (± ${x.slackMs.toFixed(1)})`).join(' / ')} from started_at`,
      );
      for (const x of implied)
        assert.ok(
          x.errMs <= START_TOLERANCE_MS + x.slackMs,
          `${x.url}: the start time implied by container_uptime_seconds is ${x.errMs.toFixed(1)} ms from the CRI's started_at`,
        );
    } finally {
      await keep.agent.stop();
    }
  });

  it("CRI: a short-lived pod container's final reading carries all of its names", async () => {
    // Every scrape from before the container is created until its series are gone.
    const pages: Array<{ at: number; page: ExpositionSample[] }> = [];
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        try {
          pages.push({ at: Date.now(), page: await scrape(kube.url) });
        } catch {
          /* the next one */
        }
        await sleep(SCRAPE_EVERY_MS);
      }
    })();
    let job: { id: string } | undefined;
    try {
      job = await cri.runContainer(pod, { name: 'job', command: ['/bin/sh', '-c', cal.script(BURN_S)] });
      const id = job.id;
      // Stopped: the -v log names the final reading; then its series leave the page.
      await kube.agent.waitForStderr(new RegExp(`task k8s\\.io/${id} stopped \\((\\w+)\\): final reading (\\S+)`), 20_000);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (pages.length === 0 || seriesOf(pages[pages.length - 1]?.page ?? [], id).length > 0)) await sleep(100);
    } finally {
      scraping = false;
      await scraper;
    }
    const id = job.id;
    const seen = pages.filter((p) => seriesOf(p.page, id).length > 0);
    assert.ok(seen.length > 0, `${id} was on none of ${pages.length} scrapes`);
    // The final reading: the highest CPU any scrape showed (CPU never falls for one incarnation).
    const final = seen.reduce((best, p) => (cpuOf(p.page, id) >= cpuOf(best.page, id) ? p : best));
    const cpu = cpuOf(final.page, id);
    const stop = kube.agent.stderr.match(new RegExp(`task k8s\\.io/${id} stopped \\((\\w+)\\): final reading (\\S+)`));
    const named = seen.filter((p) => seriesOf(p.page, id).every((s) => s.labels.k8s_pod_name === 'web-0')).length;
    console.log(
      `CRI short container: on ${seen.length} of ${pages.length} scrapes (${named} of them named), final CPU ${cpu.toFixed(3)} s for a ${BURN_S} s burn; agent: stopped (${stop?.[1]}), final reading ${stop?.[2]}`,
    );
    // The final one was taken at stop (or is the freshest reading after a lost race), never nothing.
    assert.ok(stop?.[2] === 'read' || stop?.[2] === 'last-known', `final reading ${stop?.[2]}`);
    assert.ok(cpu > 0, 'the final reading holds the burn');
    assertLabels(final.page, id, [CPU], {
      container_id: id,
      k8s_pod_name: 'web-0',
      k8s_namespace_name: 'shop',
      k8s_pod_uid: pod.uid,
      k8s_container_name: 'job',
      container_name: 'job',
      container_image_name: 'ocm.test/busybox',
      container_image_tags: TAG_RENDERED,
      container_runtime_name: 'containerd',
    });
    // The container is gone, and with it its record: removing it now cleans up CRI's state.
    const left = pod.containers.find((c) => c.id === id);
    if (left) await cri.removeContainer(pod, left);
  });

  it(`CRI: lookup latency, StartContainer returning → the first scrape (every ${SCRAPE_EVERY_MS} ms) with the pod's name, over ${LATENCY_CONTAINERS} containers`, async () => {
    const lp = await cri.runPod({ name: 'lat-0', namespace: 'shop', containers: [] });
    const ms: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < LATENCY_CONTAINERS; i++) {
      const c = await cri.runContainer(lp, { name: `c${i}`, command: ['/bin/sleep', '600'] });
      const t0 = performance.now();
      ids.push(c.id);
      await scrapeUntil(
        kube.url,
        (p) => seriesOf(p, c.id).some((s) => s.name === CPU && s.labels.k8s_pod_name === 'lat-0' && s.labels.k8s_container_name === `c${i}`),
        5_000,
        (p) => `${c.id} (c${i}) named; ${describeSeries(p, c.id)}`,
      );
      ms.push(performance.now() - t0);
    }
    // The agent's own measure, discovery → names applied (its -v log).
    const agentMs = ids
      .map((id) => kube.agent.stderr.match(new RegExp(`task k8s\\.io/${id} named in ([\\d.]+) ms`))?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(
      `lookup latency over ${LATENCY_CONTAINERS} pod containers, StartContainer returned → first scrape with k8s_pod_name: p50 ${percentile(sorted, 0.5).toFixed(1)} ms, p99 ${percentile(sorted, 0.99).toFixed(1)} ms ` +
        `(all: ${ms.map((x) => x.toFixed(0)).join(' ')} ms); agent log, discovery → named: p50 ${percentile(agentMs, 0.5)?.toFixed(1)} ms, p99 ${percentile(agentMs, 0.99)?.toFixed(1)} ms (${agentMs.length} logged)`,
    );
    assert.equal(agentMs.length, LATENCY_CONTAINERS, 'the agent logged a lookup time for every container');
    await cri.stopPod(lp);
  });

  it('plain containerd (ctr run --label): image name, tag and the allow-listed label only', async () => {
    const ns = `ocm-names-${randomSuffix()}`;
    const id = `named-${randomSuffix()}`;
    rootfs = await makeBusyboxRootfs();
    ctrd = await startContainerd();
    const archive = buildImageArchive(path.dirname(rootfs.root), rootfs.root, BUSYBOX_IMAGE, ['/bin/sh']);
    await ctrd.ctrOk(['-n', ns, 'images', 'import', archive], { timeoutMs: 120_000 });
    const plain = await startAgent(['--layouts', 'containerd', '--runtime-socket', `containerd=${ctrd.socket}`, '--container-label', 'team']);
    await ctrd.ctrOk(['-n', ns, 'run', '-d', '--label', 'team=x', '--label', 'other=y', BUSYBOX_IMAGE, id, '/bin/sleep', '600']);
    try {
      const page = await scrapeUntil(
        plain.url,
        (p) => seriesOf(p, id).some((s) => s.name === CPU && s.labels.container_namespace === ns && s.labels.container_image_name !== undefined),
        10_000,
        (p) => `${ns}/${id} named; ${describeSeries(p, id)}\nagent stderr:\n${plain.agent.stderr.slice(-3000)}`,
      );
      const series = seriesOf(page, id).filter((s) => s.labels.container_namespace === ns);
      assertLabels(series, id, [CPU, UPTIME], {
        container_namespace: ns,
        container_image_name: 'ocm.test/busybox',
        container_image_tags: TAG_RENDERED,
        container_runtime_name: 'containerd',
        container_label_team: 'x',
      });
      const other = series.filter((s) =>
        Object.keys(s.labels).some((k) => k === 'container_label_other' || (k.startsWith('container_label_') && k !== 'container_label_team')),
      );
      assert.deepEqual(other, [], 'a label that is not allow-listed is on the series');
    } finally {
      await ctrd.ctr(['-n', ns, 'task', 'kill', '-s', 'SIGKILL', id]);
      await ctrd.ctr(['-n', ns, 'task', 'delete', '-f', id]);
      await ctrd.ctr(['-n', ns, 'container', 'rm', id]);
      await plain.agent.stop();
    }
  });
});
