/**
 * The containerd and CRI metadata sources against a real containerd: plain containerd
 * (`ctr run -d --label …` from a locally imported image), and its CRI plugin driven as kubelet
 * drives it (test/helpers/cri.ts: RunPodSandbox with host networking and a kubepods cgroup
 * parent, CreateContainer, StartContainer). Then the failures a lookup must turn into typed
 * errors: a missing socket (`unavailable`) and a socket that never answers (`timeout`, by the
 * caller's deadline). Latency over 50 lookups each is printed as a diagnostic.
 *
 * Needs root, cgroups, containerd, runc and busybox-static (`bash scripts/install-peers.sh`);
 * a missing piece fails with a message naming it, never a skip. Everything started here is torn
 * down in after(), also when a test fails.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { containerdSource } from '../../src/discovery/metadata/containerd.ts';
import { criSource } from '../../src/discovery/metadata/cri.ts';
import { type LookupTask, MetadataLookupError, type MetadataSource, type MetadataSourceDefinition } from '../../src/discovery/metadata/source.ts';
import { BUSYBOX_IMAGE, buildImageArchive, CRI_NAMESPACE, type CriContainerd, type RunningPod, startCriContainerd } from '../helpers/cri.ts';
import { type BusyboxRootfs, type Containerd, makeBusyboxRootfs, randomSuffix, startContainerd } from '../helpers/runtimes.ts';

const LOOKUP_MS = 5_000;
const LATENCY_LOOKUPS = 50;

function lookup(source: MetadataSource, task: LookupTask, ms = LOOKUP_MS): ReturnType<MetadataSource['lookup']> {
  return source.lookup(task, AbortSignal.timeout(ms));
}

/** p50/p99 of `n` sequential lookups, in ms (after one warm-up lookup opened the channel). */
async function latency(source: MetadataSource, task: LookupTask, n = LATENCY_LOOKUPS): Promise<{ p50: number; p99: number }> {
  await lookup(source, task);
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const md = await lookup(source, task);
    ms.push(performance.now() - t0);
    assert.ok(md, `lookup ${i} of ${task.id} found nothing`);
  }
  ms.sort((a, b) => a - b);
  const at = (q: number): number => ms[Math.min(ms.length - 1, Math.ceil(q * ms.length) - 1)] as number;
  return { p50: Number(at(0.5).toFixed(2)), p99: Number(at(0.99).toFixed(2)) };
}

async function rejectsWith(promise: Promise<unknown>, source: string, type: MetadataLookupError['type']): Promise<MetadataLookupError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MetadataLookupError, `want a MetadataLookupError, got ${String(err)}`);
    assert.equal(err.type, type, `want type ${type}: ${err.message}`);
    assert.equal(err.source, source);
    return err;
  }
  assert.fail(`the lookup resolved; want a ${type} MetadataLookupError`);
}

describe('containerd source against a plain containerd (ctr run)', () => {
  let ctrd: Containerd;
  let rootfs: BusyboxRootfs;
  let source: MetadataSource;
  const ns = `ocm-meta-${randomSuffix()}`;
  const plainId = `plain-${randomSuffix()}`;
  const nerdctlId = `nerd-${randomSuffix()}`;

  before(async () => {
    ctrd = await startContainerd();
    rootfs = await makeBusyboxRootfs();
    const archive = buildImageArchive(path.dirname(rootfs.root), rootfs.root, BUSYBOX_IMAGE, ['/bin/sh']);
    await ctrd.ctrOk(['-n', ns, 'images', 'import', archive], { timeoutMs: 120_000 });
    await ctrd.ctrOk(['-n', ns, 'run', '-d', '--label', 'team=x', BUSYBOX_IMAGE, plainId, '/bin/sleep', '600']);
    await ctrd.ctrOk(['-n', ns, 'run', '-d', '--label', 'nerdctl/name=web', BUSYBOX_IMAGE, nerdctlId, '/bin/sleep', '600']);
    source = containerdSource.create(ctrd.socket);
  });
  after(async () => {
    source?.close();
    await ctrd?.stop();
    await rootfs?.remove();
  });

  it('names the image, its tag and the runtime, and gives every label', async () => {
    const md = await lookup(source, { layout: 'containerd', namespace: ns, id: plainId });
    assert.ok(md, 'the container was not found');
    assert.equal(md.attributes['container.image.name'], 'ocm.test/busybox');
    assert.deepEqual(md.attributes['container.image.tags'], ['1.36']);
    assert.equal(md.attributes['container.runtime.name'], 'containerd');
    assert.equal(md.attributes['container.name'], undefined, 'ctr gives no name');
    assert.equal(md.labels.team, 'x');
    assert.equal(md.sandbox, false);
    assert.equal(md.startTimeMs, undefined, "containerd's record has no start time");
  });

  it("takes container.name from nerdctl's label", async () => {
    const md = await lookup(source, { layout: 'containerd', namespace: ns, id: nerdctlId });
    assert.equal(md?.attributes['container.name'], 'web');
  });

  it('resolves undefined for an unknown id, and for a known id in another namespace', async () => {
    assert.equal(await lookup(source, { layout: 'containerd', namespace: ns, id: 'no-such-container' }), undefined);
    assert.equal(await lookup(source, { layout: 'containerd', namespace: `${ns}-other`, id: plainId }), undefined);
  });

  it('answers 50 lookups on one channel (latency printed)', async () => {
    const l = await latency(source, { layout: 'containerd', namespace: ns, id: plainId });
    console.log(`# containerd Containers/Get latency over ${LATENCY_LOOKUPS} lookups: p50 ${l.p50} ms, p99 ${l.p99} ms`);
    assert.ok(l.p99 < 1_000, `p99 ${l.p99} ms`);
  });
});

describe("CRI source against containerd's CRI plugin, driven as kubelet drives it", () => {
  let cri: CriContainerd;
  let pod: RunningPod;
  let source: MetadataSource;
  let ctrdSource: MetadataSource;
  let beforeStartMs = 0;
  let afterStartMs = 0;

  before(async () => {
    cri = await startCriContainerd();
    beforeStartMs = Date.now();
    pod = await cri.runPod({ name: 'web-0', namespace: 'shop', containers: [{ name: 'app', command: ['/bin/sleep', '600'] }] });
    afterStartMs = Date.now();
    source = criSource.create(cri.containerd.socket);
    ctrdSource = containerdSource.create(cri.containerd.socket);
  });
  after(async () => {
    source?.close();
    ctrdSource?.close();
    await cri?.stop();
  });

  it("puts the pod and the containers in kubelet's cgroup layout", () => {
    const app = pod.containers[0];
    assert.ok(app);
    const found = ['cpu', 'memory', 'unified'].some((h) => fs.existsSync(path.join('/sys/fs/cgroup', h, app.cgroupPath)));
    assert.ok(found || fs.existsSync(path.join('/sys/fs/cgroup', app.cgroupPath)), `no cgroup ${app.cgroupPath}`);
    assert.match(pod.cgroupParent, /^kubepods\/besteffort\/pod[0-9a-f-]{36}$/);
  });

  it('names the pod, namespace, uid, container and image, with the start time, from ContainerStatus', async () => {
    const app = pod.containers[0];
    assert.ok(app);
    const md = await lookup(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: app.id });
    assert.ok(md, 'the container was not found');
    assert.deepEqual(
      { ...md.attributes },
      {
        'k8s.pod.name': 'web-0',
        'k8s.namespace.name': 'shop',
        'k8s.pod.uid': pod.uid,
        'k8s.container.name': 'app',
        'container.name': 'app',
        'container.image.name': 'ocm.test/busybox',
        'container.image.tags': ['1.36'],
        'container.runtime.name': 'containerd',
      },
    );
    assert.equal(md.labels['io.kubernetes.pod.name'], 'web-0');
    assert.equal(md.sandbox, false);
    assert.ok(md.startTimeMs !== undefined, 'no start time');
    assert.ok(md.startTimeMs >= beforeStartMs - 1 && md.startTimeMs <= afterStartMs + 1, `start ${md.startTimeMs} outside [${beforeStartMs}, ${afterStartMs}]`);
  });

  it('gives the sandbox id sandbox: true with the pod names, from PodSandboxStatus', async () => {
    const md = await lookup(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: pod.sandboxId });
    assert.ok(md, 'the sandbox was not found');
    assert.equal(md.sandbox, true);
    assert.equal(md.attributes['k8s.pod.name'], 'web-0');
    assert.equal(md.attributes['k8s.namespace.name'], 'shop');
    assert.equal(md.attributes['k8s.pod.uid'], pod.uid);
    assert.equal(md.attributes['container.name'], undefined);
  });

  it('resolves undefined for an id the runtime does not know', async () => {
    assert.equal(await lookup(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: 'f'.repeat(64) }), undefined);
  });

  it("the containerd source names the CRI plugin's records in k8s.io too, and marks the sandbox", async () => {
    const app = pod.containers[0];
    assert.ok(app);
    const md = await lookup(ctrdSource, { layout: 'containerd', namespace: CRI_NAMESPACE, id: app.id });
    assert.equal(md?.attributes['k8s.pod.name'], 'web-0');
    assert.equal(md?.attributes['container.name'], 'app');
    assert.equal(md?.sandbox, false);
    const sandbox = await lookup(ctrdSource, { layout: 'containerd', namespace: CRI_NAMESPACE, id: pod.sandboxId });
    assert.equal(sandbox?.sandbox, true);
  });

  it('answers 50 lookups on one channel (latency printed)', async () => {
    const app = pod.containers[0];
    assert.ok(app);
    const c = await latency(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: app.id });
    const s = await latency(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: pod.sandboxId });
    console.log(`# CRI ContainerStatus latency over ${LATENCY_LOOKUPS} lookups: p50 ${c.p50} ms, p99 ${c.p99} ms`);
    console.log(`# CRI sandbox (ContainerStatus NOT_FOUND + PodSandboxStatus) latency: p50 ${s.p50} ms, p99 ${s.p99} ms`);
    assert.ok(c.p99 < 1_000 && s.p99 < 1_000, `p99 ${c.p99} / ${s.p99} ms`);
  });

  it('a stopped and removed pod is no longer found', async () => {
    const other = await cri.runPod({ name: 'job-0', namespace: 'shop', containers: [{ name: 'once', command: ['/bin/sleep', '600'] }] });
    const once = other.containers[0];
    assert.ok(once);
    assert.equal((await lookup(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: once.id }))?.attributes['k8s.pod.name'], 'job-0');
    await cri.stopPod(other);
    assert.equal(await lookup(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: once.id }), undefined);
    assert.equal(await lookup(source, { layout: 'kubernetes', namespace: CRI_NAMESPACE, id: other.sandboxId }), undefined);
  });
});

describe('failures become typed lookup errors', () => {
  const dir = fs.mkdtempSync(path.join(tmpdir(), 'ocm-meta-fail-'));
  const silent = path.join(dir, 'silent.sock');
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  const sources: MetadataSourceDefinition[] = [containerdSource, criSource];
  const task = (def: MetadataSourceDefinition): LookupTask => ({ layout: def.layouts[0] ?? 'containerd', namespace: 'default', id: 'a'.repeat(64) });

  before(async () => {
    // Accepts connections and never says a word: a hung runtime.
    server = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(silent, resolve));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const def of sources) {
    it(`${def.name}: a missing socket is 'unavailable', at once`, async () => {
      const source = def.create(path.join(dir, 'missing.sock'));
      try {
        const t0 = performance.now();
        await rejectsWith(lookup(source, task(def)), def.name, 'unavailable');
        assert.ok(performance.now() - t0 < 1_000, `took ${performance.now() - t0} ms`);
      } finally {
        source.close();
      }
    });

    it(`${def.name}: a socket that never answers is 'timeout' by the caller's deadline`, async () => {
      const source = def.create(silent);
      try {
        const t0 = performance.now();
        await rejectsWith(lookup(source, task(def), 300), def.name, 'timeout');
        const took = performance.now() - t0;
        assert.ok(took >= 250 && took < 1_500, `took ${took} ms for a 300 ms deadline`);
      } finally {
        source.close();
      }
    });

    it(`${def.name}: an already aborted signal and a closed source reject without a call`, async () => {
      const source = def.create(silent);
      await rejectsWith(source.lookup(task(def), AbortSignal.abort()), def.name, 'timeout');
      source.close();
      await rejectsWith(lookup(source, task(def)), def.name, 'unavailable');
    });
  }
});
