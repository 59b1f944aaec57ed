/**
 * Names on the series from a real podman (Debian bookworm's 4.3.1, test/helpers/podman.ts: a
 * private storage root, the cgroupfs cgroup manager, host networking, busybox imported as
 * `local/busybox:1.36`, which podman names `localhost/local/busybox:1.36`) and its libpod API
 * (`podman system service` on a private socket):
 *
 * - The podman source itself: `GET /v4.0.0/libpod/containers/<id>/json` gives the name, image,
 *   tag, labels and podman's StartedAt; a pod's infra container is a sandbox; an unknown id is
 *   undefined.
 * - The built agent (`--layouts podman --runtime-socket podman=<socket> --container-label team`)
 *   finds the containers at `/libpod_parent[/<pod id>]/libpod-<id>` and its scrape carries
 *   container_name, container_image_name, the tag, container_runtime_name="podman" and the
 *   allow-listed label only.
 * - `podman pod create` + a container in the pod: the infra container appears in no series
 *   (dropped as a sandbox), the pod's container does, named.
 * - The final reading of a short `podman run --rm` container carries its name.
 *
 * Needs root, podman, conmon, runc, catatonit and busybox-static (`bash scripts/install-peers.sh`);
 * a missing piece fails with a message naming it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { podmanSource } from '../../src/discovery/metadata/podman.ts';
import { AgentProcess, CLI, httpGet, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort } from '../helpers/peers.ts';
import { PODMAN_CGROUP_PARENT, PODMAN_IMAGE, PODMAN_IMAGE_NAME, PODMAN_TAG, type Podman, startPodman } from '../helpers/podman.ts';
import { type ExpositionSample, calibrateBurn, parseExposition, randomSuffix } from '../helpers/runtimes.ts';

const IMAGE = `${PODMAN_IMAGE}:${PODMAN_TAG}`;
/** How the Prometheus exporter renders the string array `container.image.tags = ['1.36']`. */
const TAGS_LABEL = JSON.stringify([PODMAN_TAG]);
const CPU = 'container_cpu_time_seconds_total';
const UPTIME = 'container_uptime_seconds';

async function page(url: string): Promise<ExpositionSample[]> {
  const res = await httpGet(url);
  assert.equal(res.status, 200, `GET ${url}: ${res.status}`);
  return parseExposition(res.body);
}

/** The samples that carry `id` in any label. */
function withId(p: ExpositionSample[], id: string): ExpositionSample[] {
  return p.filter((x) => Object.values(x.labels).includes(id));
}

function isNamed(p: ExpositionSample[], id: string, name: string): boolean {
  return p.some((x) => x.name === UPTIME && x.labels.container_id === id && x.labels.container_name === name);
}

/** Pages every 50 ms until `done(page)`; fails after `timeoutMs` naming `what`. */
async function pageUntil(url: string, done: (p: ExpositionSample[]) => boolean, what: string, timeoutMs = 10_000): Promise<ExpositionSample[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await page(url);
    if (done(p)) return p;
    if (Date.now() > deadline) {
      const uptimes = p.filter((x) => x.name === UPTIME).map((x) => JSON.stringify(x.labels));
      assert.fail(`${what}: not within ${timeoutMs} ms; ${UPTIME} on the last page:\n${uptimes.join('\n') || 'none'}`);
    }
    await sleep(50);
  }
}

/** Every page fetched, one each 50 ms, while `action` runs (it can count them with `seen()`). */
async function pagesDuring(url: string, action: (seen: () => number) => Promise<void>): Promise<ExpositionSample[][]> {
  const pages: ExpositionSample[][] = [];
  let done = false;
  const loop = (async () => {
    for (; !done; await sleep(50)) pages.push(await page(url));
  })();
  try {
    await action(() => pages.length);
  } finally {
    done = true;
    await loop;
  }
  return pages;
}

describe('names on the series from a real podman', { timeout: 90_000 }, () => {
  let podman: Podman;
  const suffix = randomSuffix();
  const web = `ocm-pod-${suffix}`;
  const podName = `ocm-pod-${suffix}-pod`;
  const app = `ocm-pod-${suffix}-app`;
  let webId: string;
  let webStartedAt: string;
  let appId: string;
  let infraId: string;
  let podId: string;
  let agent: AgentProcess;
  let url: string;
  const fileStart = Date.now();

  before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run \`npm run build\` first`);
    podman = await startPodman();
    webId = (await podman.podmanOk(['run', '-d', '--name', web, '--label', 'team=checkout', '--label', 'secret=x', IMAGE, 'sleep', '60'])).trim();
    assert.match(webId, /^[0-9a-f]{64}$/);
    webStartedAt = (await podman.podmanOk(['inspect', '--format', '{{.State.StartedAt}}', webId])).trim();
    podId = (await podman.podmanOk(['pod', 'create', '--name', podName])).trim();
    appId = (await podman.podmanOk(['run', '-d', '--pod', podName, '--name', app, IMAGE, 'sleep', '60'])).trim();
    infraId = (await podman.podmanOk(['pod', 'inspect', '--format', '{{.InfraContainerID}}', podName])).trim();
    assert.match(infraId, /^[0-9a-f]{64}$/);
    const port = await freePort();
    const flags = `-v --layouts podman --container-label team --empty-poll-interval 50 --prometheus-host 127.0.0.1 --prometheus-port ${port}`;
    agent = new AgentProcess([...flags.split(' '), '--runtime-socket', `podman=${podman.socket}`]);
    url = await agent.prometheusUrl();
  });

  after(async () => {
    await stopAllAgents();
    await podman?.stop();
    console.log(`names-podman.test.ts: ${((Date.now() - fileStart) / 1000).toFixed(1)} s in all`);
  });

  it('the cgroupfs manager puts containers at /libpod_parent/libpod-<id>, and pods at /libpod_parent/<pod id>/libpod-<id>', () => {
    for (const rel of [`libpod-${webId}`, `${podId}/libpod-${appId}`, `${podId}/libpod-${infraId}`]) {
      const dir = path.join('/sys/fs/cgroup/memory', PODMAN_CGROUP_PARENT, rel);
      assert.ok(fs.existsSync(dir), `${dir} is missing`);
    }
  });

  it("the podman source: libpod's inspect gives name, image, tag, labels and start time; the infra container is a sandbox", async () => {
    assert.equal(podmanSource.name, 'podman');
    assert.deepEqual(podmanSource.layouts, ['podman']);
    assert.equal(podmanSource.defaultEndpoint, '/run/podman/podman.sock');
    const source = podmanSource.create(podman.socket);
    try {
      const lookup = (id: string) => source.lookup({ layout: 'podman', namespace: 'podman', id }, AbortSignal.timeout(5_000));
      const md = await lookup(webId);
      assert.ok(md);
      assert.deepEqual(md.attributes, {
        'container.name': web,
        'container.image.name': PODMAN_IMAGE_NAME,
        'container.image.tags': [PODMAN_TAG],
        'container.runtime.name': 'podman',
      });
      assert.deepEqual(md.labels, { team: 'checkout', secret: 'x' });
      assert.equal(md.startTimeMs, Date.parse(webStartedAt));
      assert.equal(md.sandbox, false);
      assert.equal(md.startPending, undefined);
      const infra = await lookup(infraId);
      assert.ok(infra);
      assert.equal(infra.sandbox, true, JSON.stringify(infra));
      const inPod = await lookup(appId);
      assert.equal(inPod?.sandbox, false);
      assert.equal(inPod?.attributes['container.name'], app);
      assert.equal(await lookup('f'.repeat(64)), undefined);
    } finally {
      source.close();
    }
  });

  it('the agent: name, image, tag, runtime and the allow-listed label on every series of the container', async () => {
    const p = await pageUntil(url, (x) => isNamed(x, webId, web), `${web} named`);
    const expected = {
      container_id: webId,
      container_namespace: 'podman',
      container_name: web,
      container_image_name: PODMAN_IMAGE_NAME,
      container_image_tags: TAGS_LABEL,
      container_runtime_name: 'podman',
      container_label_team: 'checkout',
    };
    const uptime = p.filter((x) => x.name === UPTIME && x.labels.container_id === webId);
    assert.equal(uptime.length, 1);
    const { otel_scope_name: _n, otel_scope_version: _v, ...labels } = (uptime[0] as ExpositionSample).labels;
    assert.deepEqual(labels, expected);
    const series = withId(p, webId);
    assert.ok(series.some((x) => x.name === CPU));
    for (const x of series) {
      for (const [k, v] of Object.entries(expected)) assert.equal(x.labels[k], v, `${x.name} ${k}`);
      assert.equal(x.labels.container_label_secret, undefined, x.name);
    }
    // Uptime is podman's: StartedAt, not the agent's discovery.
    assert.ok(Math.abs(Date.now() / 1000 - (uptime[0] as ExpositionSample).value - Date.parse(webStartedAt) / 1000) <= 1.5, 'uptime from StartedAt');
    assert.match(agent.stderr, new RegExp(`task podman/${webId} named in [0-9.]+ ms`));
  });

  it("a pod: the infra container appears in no series, the pod's container does, named", async () => {
    await agent.waitForStderr(new RegExp(`task podman/${infraId} is a pod sandbox: not exported`), 10_000);
    const p = await pageUntil(url, (x) => isNamed(x, appId, app), `${app} (in pod ${podName}) named`);
    assert.deepEqual(
      withId(p, infraId).map((x) => x.name),
      [],
      `the infra container ${infraId} is on the page`,
    );
    for (const x of withId(p, appId)) assert.equal(x.labels.container_name, app, x.name);
    // Still absent a few pages later.
    for (let i = 0; i < 3; i++) {
      await sleep(100);
      assert.equal(withId(await page(url), infraId).length, 0);
    }
  });

  it('the final reading of a short podman run --rm container carries its name', async () => {
    const cal = await calibrateBurn();
    const burnS = 0.3;
    const short = `ocm-pod-${suffix}-short`;
    const cidfile = path.join(podman.dir, `short-${suffix}.cid`);
    let id = '';
    const pages = await pagesDuring(url, async (seen) => {
      await podman.podmanOk(['run', '--rm', '--cidfile', cidfile, '--name', short, IMAGE, '/bin/sh', '-c', cal.script(burnS)]);
      id = fs.readFileSync(cidfile, 'utf8').trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      await agent.waitForStderr(new RegExp(`task podman/${id} stopped \\(\\w+\\): final reading`), 10_000);
      // The final reading goes out with the next page; a few more show that it went once.
      const n = seen();
      while (seen() < n + 4) await sleep(50);
    });
    const shown = pages.map((p, i) => ({ p, i })).filter(({ p }) => p.some((x) => x.name === CPU && x.labels.container_id === id));
    assert.ok(shown.length > 0, `no page of ${pages.length} showed ${id.slice(0, 12)}; agent log:\n${agent.stderr.slice(-3000)}`);
    const last = shown[shown.length - 1] as { p: ExpositionSample[]; i: number };
    assert.ok(last.i < pages.length - 1, 'the container is still on the last page: no final reading seen');
    const cpu = last.p.filter((x) => x.name === CPU && x.labels.container_id === id).reduce((t, x) => t + x.value, 0);
    // The final one: taken at stop (or the freshest reading after a lost race), the most CPU any page showed.
    assert.match(agent.stderr, new RegExp(`task podman/${id} stopped \\(\\w+\\): final reading (read|last-known)`));
    const most = Math.max(...shown.map(({ p }) => p.filter((x) => x.name === CPU && x.labels.container_id === id).reduce((t, x) => t + x.value, 0)));
    assert.equal(cpu, most, `the last reading (${cpu.toFixed(3)} s of CPU) holds the most CPU shown (${most.toFixed(3)} s)`);
    for (const x of withId(last.p, id)) {
      assert.equal(x.labels.container_name, short, `${x.name} ${JSON.stringify(x.labels)}`);
      assert.equal(x.labels.container_image_name, PODMAN_IMAGE_NAME, x.name);
      assert.equal(x.labels.container_runtime_name, 'podman', x.name);
    }
    console.log(`short --rm container: ${shown.length} of ${pages.length} pages showed it; final reading ${cpu.toFixed(3)} s CPU (burn ${burnS} s)`);
  });
});
