/**
 * The container runtimes' cgroup layouts, on paths alone (pure: no I/O). For each layout:
 * real-looking paths that must match (namespace, id, attributes), paths that must not (other
 * layouts' tasks, parents, children, short ids), the bounds of mayContain (which directories
 * the watcher may watch), custom patterns, layoutsFrom and the precedence between layouts.
 */
import type { Attributes } from '@opentelemetry/api';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BUILTIN_LAYOUT_NAMES,
  builtinLayout,
  classify,
  DEFAULT_LAYOUTS,
  customLayout,
  layoutsFrom,
  matchTask,
  worthWatching,
  type BuiltinLayoutName,
  type DiscoveredTask,
  type Layout,
  type LayoutName,
} from '../../src/discovery/layouts.ts';
import { BUILTIN_LAYOUTS } from '../../src/discovery/layouts/registry.ts';
import { ConfigError } from '../../src/errors.ts';

// Real-looking ids: 64 lowercase hex (runc, docker, CRI), pod UIDs as kubelet writes them.
const ID = '4f2b9c0e7d1a3b5c6e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d';
const ID2 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SHORT = ID.slice(0, 12);
const UID = '8f2d1c3a-5b6e-4f70-9a1b-2c3d4e5f6a7b';
const UID_ = UID.replace(/-/g, '_'); // the systemd driver escapes '-' in slice names

/** Every task path of the built-in layouts, with its owner: used for the cross checks. */
const TASKS: Array<{ path: string; layout: LayoutName; namespace: string; id: string; attributes: Attributes }> = [
  { path: '/default/redis', layout: 'containerd', namespace: 'default', id: 'redis', attributes: { 'container.runtime.name': 'containerd' } },
  { path: `/k8s.io/${ID}`, layout: 'containerd', namespace: 'k8s.io', id: ID, attributes: { 'container.runtime.name': 'containerd' } },
  { path: '/buildkit/m5x2kq0v9y3z', layout: 'containerd', namespace: 'buildkit', id: 'm5x2kq0v9y3z', attributes: { 'container.runtime.name': 'containerd' } },
  { path: `/docker/${ID}`, layout: 'docker', namespace: 'moby', id: ID, attributes: { 'container.runtime.name': 'docker' } },
  { path: `/system.slice/docker-${ID2}.scope`, layout: 'docker', namespace: 'moby', id: ID2, attributes: { 'container.runtime.name': 'docker' } },
  {
    path: `/kubepods/burstable/pod${UID}/${ID}`,
    layout: 'kubernetes',
    namespace: 'k8s.io',
    id: ID,
    attributes: { 'k8s.pod.uid': UID, 'k8s.pod.qos_class': 'burstable' },
  },
  {
    path: `/kubepods/besteffort/pod${UID}/${ID2}`,
    layout: 'kubernetes',
    namespace: 'k8s.io',
    id: ID2,
    attributes: { 'k8s.pod.uid': UID, 'k8s.pod.qos_class': 'besteffort' },
  },
  {
    path: `/kubepods/pod${UID}/${ID}`,
    layout: 'kubernetes',
    namespace: 'k8s.io',
    id: ID,
    attributes: { 'k8s.pod.uid': UID, 'k8s.pod.qos_class': 'guaranteed' },
  },
  {
    path: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    layout: 'kubernetes',
    namespace: 'k8s.io',
    id: ID,
    attributes: { 'k8s.pod.uid': UID, 'k8s.pod.qos_class': 'burstable', 'container.runtime.name': 'containerd' },
  },
  {
    path: `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID2}.scope`,
    layout: 'kubernetes',
    namespace: 'k8s.io',
    id: ID2,
    attributes: { 'k8s.pod.uid': UID, 'k8s.pod.qos_class': 'besteffort', 'container.runtime.name': 'cri-o' },
  },
  {
    path: `/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`,
    layout: 'kubernetes',
    namespace: 'k8s.io',
    id: ID,
    attributes: { 'k8s.pod.uid': UID, 'k8s.pod.qos_class': 'guaranteed', 'container.runtime.name': 'docker' },
  },
  { path: `/machine.slice/libpod-${ID}.scope`, layout: 'podman', namespace: 'podman', id: ID, attributes: { 'container.runtime.name': 'podman' } },
  {
    path: `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID2}.scope`,
    layout: 'podman',
    namespace: 'podman',
    id: ID2,
    attributes: { 'container.runtime.name': 'podman' },
  },
  // In a pod (systemd cgroup manager): the pod's slice.
  {
    path: `/machine.slice/machine-libpod_pod_${ID2}.slice/libpod-${ID}.scope`,
    layout: 'podman',
    namespace: 'podman',
    id: ID,
    attributes: { 'container.runtime.name': 'podman' },
  },
  // The cgroupfs cgroup manager (hosts without systemd), as podman 4.3 makes them on this machine; in a pod: /libpod_parent/<pod id>/.
  { path: `/libpod_parent/libpod-${ID}`, layout: 'podman', namespace: 'podman', id: ID, attributes: { 'container.runtime.name': 'podman' } },
  { path: `/libpod_parent/${ID2}/libpod-${ID}`, layout: 'podman', namespace: 'podman', id: ID, attributes: { 'container.runtime.name': 'podman' } },
  { path: '/system.slice/nginx.service', layout: 'systemd', namespace: 'systemd', id: 'nginx.service', attributes: { 'systemd.unit': 'nginx.service' } },
];

function expectTask(layout: Layout, path: string, want: Omit<DiscoveredTask, 'layout'>): void {
  const got = layout.match(path);
  assert.ok(got, `${layout.name} should match ${path}`);
  assert.deepEqual(got, { layout: layout.name, ...want }, path);
}

function expectNone(layout: Layout, paths: readonly string[]): void {
  for (const p of paths) assert.equal(layout.match(p), undefined, `${layout.name} must not match ${p}`);
}

function expectWatch(layout: Layout, yes: readonly string[], no: readonly string[]): void {
  for (const p of yes) assert.equal(layout.mayContain(p), true, `${layout.name}.mayContain(${p}) should be true`);
  for (const p of no) assert.equal(layout.mayContain(p), false, `${layout.name}.mayContain(${p}) should be false`);
}

/** The other layouts' task paths: none of them is this layout's. */
function othersTasks(name: LayoutName): string[] {
  return TASKS.filter((t) => t.layout !== name).map((t) => t.path);
}

describe('each layout owns exactly its own task paths', () => {
  for (const name of BUILTIN_LAYOUT_NAMES) {
    test(`${name}: its task paths match with namespace, id and attributes; the others' do not`, () => {
      const layout = builtinLayout(name);
      assert.equal(layout.name, name);
      const own = TASKS.filter((t) => t.layout === name);
      assert.ok(own.length > 0);
      for (const t of own) expectTask(layout, t.path, { namespace: t.namespace, id: t.id, attributes: t.attributes });
      expectNone(layout, othersTasks(name));
    });
  }
});

describe('containerd (/<namespace>/<id>)', () => {
  const l = builtinLayout('containerd');
  test("never parents, children, system.slice nor the other runtimes' top-level directories", () => {
    expectNone(l, [
      '/',
      '/default',
      '/default/redis/child',
      '/default/redis/a/b',
      '/system.slice/containerd.service',
      '/system.slice/foo',
      '/system.slice/kubelet.service',
      '/user.slice/user-1000.slice',
      '/machine.slice/machine-qemu.scope',
      `/libpod_parent/${ID2}`,
      '/libpod_parent/conmon',
      '/init.scope/x',
      '/docker/abc',
      `/docker/${ID}`,
      '/kubepods/besteffort',
      `/kubepods/pod${UID}`,
      '/kubepods.slice/kubepods-burstable.slice',
      '/unified/default',
      '/default/session-3.scope',
    ]);
  });
  test('mayContain: only the root and namespace directories', () => {
    expectWatch(
      l,
      ['/', '/default', '/k8s.io', '/moby', '/buildkit'],
      [
        '/default/redis',
        `/k8s.io/${ID}`,
        '/default/redis/x',
        '/system.slice',
        '/user.slice',
        '/machine.slice',
        '/init.scope',
        '/docker',
        '/kubepods',
        '/kubepods.slice',
        '/unified',
      ],
    );
  });
});

describe('docker (/docker/<id>, /system.slice/docker-<id>.scope)', () => {
  const l = builtinLayout('docker');
  test('only full 64-hex ids, never short ids, parents, children or other units', () => {
    expectNone(l, [
      '/docker',
      `/docker/${SHORT}`,
      `/docker/${ID.toUpperCase()}`,
      `/docker/${ID}0`,
      `/docker/${ID}/child`,
      `/docker/buildkit/${ID}`,
      '/system.slice',
      '/system.slice/docker.service',
      '/system.slice/docker.socket',
      `/system.slice/docker-${SHORT}.scope`,
      `/system.slice/docker-${ID}.scope/init`,
      `/system.slice/docker-${ID}.service`,
      `/user.slice/docker-${ID}.scope`,
      `/moby/${ID}`,
    ]);
  });
  test('mayContain: /, /docker and /system.slice only', () => {
    expectWatch(
      l,
      ['/', '/docker', '/system.slice'],
      [`/docker/${ID}`, `/system.slice/docker-${ID}.scope`, '/system.slice/docker.service', '/default', '/kubepods', '/user.slice'],
    );
  });
});

describe('kubernetes (cgroupfs and systemd drivers)', () => {
  const l = builtinLayout('kubernetes');
  test('k8s.pod.uid keeps its dashes when the systemd slice escapes them as underscores', () => {
    const t = l.match(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`);
    assert.equal(t?.attributes['k8s.pod.uid'], UID);
    assert.match(String(t?.attributes['k8s.pod.uid']), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });
  test('container.runtime.name from the scope prefix: cri-containerd → containerd, crio → cri-o, docker → docker', () => {
    const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;
    assert.equal(l.match(`${pod}/cri-containerd-${ID}.scope`)?.attributes['container.runtime.name'], 'containerd');
    assert.equal(l.match(`${pod}/crio-${ID}.scope`)?.attributes['container.runtime.name'], 'cri-o');
    assert.equal(l.match(`${pod}/docker-${ID}.scope`)?.attributes['container.runtime.name'], 'docker');
    // cgroupfs paths do not say which runtime: no attribute rather than a guess.
    assert.equal(l.match(`/kubepods/burstable/pod${UID}/${ID}`)?.attributes['container.runtime.name'], undefined);
  });
  test('never the QoS or pod directories, pod siblings (conmon), children of containers, or unknown runtimes', () => {
    const pod = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`;
    expectNone(l, [
      '/kubepods',
      '/kubepods/burstable',
      `/kubepods/burstable/pod${UID}`,
      `/kubepods/pod${UID}`,
      `/kubepods/burstable/pod${UID}/${SHORT}`,
      `/kubepods/burstable/pod${UID}/${ID}/child`,
      `/kubepods/guaranteed/pod${UID}/${ID}`,
      `/kubepods/burstable/pod1234/${ID}`,
      '/kubepods.slice',
      '/kubepods.slice/kubepods-burstable.slice',
      pod,
      `${pod}/crio-conmon-${ID}.scope`,
      `${pod}/cri-containerd-${SHORT}.scope`,
      `${pod}/cri-containerd-${ID}.scope/child`,
      `${pod}/runc-${ID}.scope`,
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.service`,
      `/system.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    ]);
  });
  test('mayContain: the kubepods root, the QoS directories and pod directories, never below pod level', () => {
    const qos = '/kubepods.slice/kubepods-burstable.slice';
    const pod = `${qos}/kubepods-burstable-pod${UID_}.slice`;
    const gpod = `/kubepods.slice/kubepods-pod${UID_}.slice`;
    expectWatch(
      l,
      [
        '/',
        '/kubepods',
        '/kubepods/burstable',
        '/kubepods/besteffort',
        `/kubepods/burstable/pod${UID}`,
        `/kubepods/besteffort/pod${UID}`,
        `/kubepods/pod${UID}`,
        '/kubepods.slice',
        qos,
        '/kubepods.slice/kubepods-besteffort.slice',
        pod,
        gpod,
      ],
      [
        // containers and anything below them
        `/kubepods/burstable/pod${UID}/${ID}`,
        `/kubepods/pod${UID}/${ID}`,
        `/kubepods/pod${UID}/${ID}/child`,
        `${pod}/cri-containerd-${ID}.scope`,
        `${gpod}/cri-containerd-${ID}.scope`,
        // pod siblings that are not containers: CRI-O's conmon scope, the pause sandbox of other tools
        `${pod}/crio-conmon-${ID}.scope`,
        `${gpod}/crio-conmon-${ID}.scope`,
        `/kubepods/pod${UID}/not-a-container`,
        // other trees
        '/system.slice',
        '/docker',
        '/default',
        '/machine.slice',
        '/user.slice',
      ],
    );
  });
});

describe('podman (libpod-<id>.scope, /libpod_parent/libpod-<id>)', () => {
  const l = builtinLayout('podman');
  test("never the container's own sub-cgroup (libpod-<id>.scope/container), conmon, parents or short ids", () => {
    expectNone(l, [
      '/machine.slice',
      `/machine.slice/machine-libpod_pod_${ID2}.slice`,
      '/libpod_parent',
      '/libpod_parent/conmon',
      `/libpod_parent/${ID2}`,
      `/libpod_parent/${ID2}/conmon`,
      `/libpod_parent/libpod-${ID}/x`,
      `/libpod_parent/libpod-${SHORT}`,
      `/libpod_parent/a/b/libpod-${ID}`,
      `/other/libpod-${ID}`,
      `/machine.slice/libpod-${ID}.scope/container`,
      `/machine.slice/libpod-${ID}.scope/container/x`,
      `/machine.slice/libpod-conmon-${ID}.scope`,
      `/machine.slice/libpod-${SHORT}.scope`,
      `/machine.slice/libpod-${ID}.service`,
      `/machine.slice/libpod_parent/${ID}`,
      '/user.slice/user-1000.slice/user@1000.service/user.slice',
    ]);
  });
  test('mayContain: /machine.slice, /libpod_parent, the rootless user slices and pods in them, never inside a container', () => {
    expectWatch(
      l,
      [
        '/',
        '/machine.slice',
        `/machine.slice/machine-libpod_pod_${ID2}.slice`,
        '/libpod_parent',
        `/libpod_parent/${ID2}`,
        `/user.slice/user-1000.slice/user@1000.service/user.slice/user-libpod_pod_${ID2}.slice`,
        '/user.slice',
        '/user.slice/user-1000.slice',
        '/user.slice/user-1000.slice/user@1000.service',
        '/user.slice/user-1000.slice/user@1000.service/user.slice',
      ],
      [
        `/machine.slice/libpod-${ID}.scope`,
        `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope`,
        `/user.slice/libpod-${ID}.scope`,
        '/user.slice/user-1000.slice/user@1000.service/user.slice/podman.slice',
        '/machine.slice/machine-qemu.scope',
        `/machine.slice/machine-libpod_pod_${ID2}.slice/libpod-${ID}.scope`,
        '/libpod_parent/conmon',
        `/libpod_parent/libpod-${ID}`,
        `/libpod_parent/${ID2}/libpod-${ID}`,
        `/libpod_parent/${ID2}/conmon`,
        '/system.slice',
        '/docker',
        '/default',
        '/kubepods',
      ],
    );
  });
});

describe('systemd (/system.slice/<unit>.service)', () => {
  const l = builtinLayout('systemd');
  test('services only, not scopes, sockets, their children, nor units of other slices', () => {
    expectNone(l, [
      '/system.slice',
      '/system.slice/cron.socket',
      '/system.slice/nginx.service/child',
      `/system.slice/docker-${ID}.scope`,
      '/user.slice/app.service',
      '/nginx.service',
    ]);
  });
  test('mayContain: / and /system.slice only', () => {
    expectWatch(l, ['/', '/system.slice'], ['/system.slice/nginx.service', '/user.slice', '/default', '/docker']);
  });
  test('off by default', () => {
    assert.deepEqual([...DEFAULT_LAYOUTS].sort(), ['containerd', 'docker', 'kubernetes', 'podman']);
    assert.ok(!layoutsFrom(DEFAULT_LAYOUTS).some((l) => l.name === 'systemd'));
  });
});

describe('custom patterns', () => {
  test('named groups id and namespace; namespace defaults to custom; no attributes', () => {
    const jobs = customLayout('^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$');
    assert.equal(jobs.name, 'custom');
    expectTask(jobs, '/jobs/tenant-a/job-42', { namespace: 'tenant-a', id: 'job-42', attributes: {} });
    expectNone(jobs, ['/', '/jobs', '/jobs/tenant-a', '/jobs/tenant-a/job-42/step-1', '/batch/tenant-a/job-42']);
    const batch = customLayout('^/batch/(?<id>\\d+)$');
    expectTask(batch, '/batch/1234', { namespace: 'custom', id: '1234', attributes: {} });
    expectNone(batch, ['/batch/abc', '/batch', '/batch/12/34']);
  });
  test('an id group that does not take part in the match is no match', () => {
    const l = customLayout('^/runs(?:/(?<id>[a-z]+))?$');
    assert.equal(l.match('/runs'), undefined);
    expectTask(l, '/runs/abc', { namespace: 'custom', id: 'abc', attributes: {} });
  });
  test("mayContain: the proper prefixes of matching paths, up to the pattern's depth (a / inside [^/] is not a level)", () => {
    expectWatch(
      customLayout('^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$'),
      ['/', '/jobs', '/jobs/tenant-a'],
      ['/jobs/tenant-a/job-42', '/jobs/tenant-a/job-42/x', '/jobs/a/b/c'],
    );
    expectWatch(customLayout('^/batch/(?<id>\\d+)$'), ['/', '/batch'], ['/batch/1', '/batch/1/2']);
    expectWatch(customLayout('^/a\\/(?<id>[^/]+)$'), ['/', '/a'], ['/a/b']);
  });
  test('a bad regular expression is a ConfigError naming the pattern', () => {
    assert.throws(
      () => customLayout('^/jobs/(?<id>[a-z+$'),
      (e: unknown) => e instanceof ConfigError && e.code === 'CONFIG' && e.message.includes('^/jobs/(?<id>[a-z+$'),
    );
  });
  test('a pattern without a named group id is a ConfigError', () => {
    for (const p of ['^/jobs/([^/]+)$', '^/jobs/(?<ident>[^/]+)$', '^/jobs/(?<namespace>[^/]+)/([^/]+)$']) {
      assert.throws(
        () => customLayout(p),
        (e: unknown) => e instanceof ConfigError && /\(\?<id>/.test(e.message),
        p,
      );
      assert.throws(() => layoutsFrom([], [p]), ConfigError, p);
    }
  });
});

describe('layoutsFrom, matchTask, worthWatching', () => {
  test('an unknown layout name is a ConfigError listing the known ones', () => {
    for (const bad of ['contained', 'Docker', 'custom', '', 'k8s']) {
      assert.throws(
        () => layoutsFrom(['containerd', bad]),
        (e: unknown) =>
          e instanceof ConfigError && e.message.includes(JSON.stringify(bad)) && e.message.includes('containerd, docker, kubernetes, podman, systemd'),
        bad,
      );
    }
  });
  test('specific layouts first whatever the order given; custom patterns before all; duplicates once', () => {
    assert.deepEqual(
      layoutsFrom(['containerd', 'systemd', 'podman', 'docker', 'kubernetes']).map((l) => l.name),
      ['kubernetes', 'docker', 'podman', 'systemd', 'containerd'],
    );
    assert.deepEqual(
      layoutsFrom(['containerd', 'kubernetes'], ['^/x/(?<id>[^/]+)$']).map((l) => l.name),
      ['custom', 'kubernetes', 'containerd'],
    );
    assert.deepEqual(
      layoutsFrom(['docker', 'docker']).map((l) => l.name),
      ['docker'],
    );
    assert.deepEqual(layoutsFrom([]), []);
  });
  test('precedence: kubernetes before containerd for /kubepods/... whatever the order of the names', () => {
    const layouts = layoutsFrom(['containerd', 'kubernetes']);
    assert.equal(matchTask(layouts, `/kubepods/burstable/pod${UID}/${ID}`)?.layout, 'kubernetes');
    assert.equal(matchTask(layouts, `/kubepods/pod${UID}/${ID}`)?.layout, 'kubernetes');
    assert.equal(matchTask(layouts, `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`)?.layout, 'kubernetes');
    // and containerd never claims the kubepods QoS or pod directories, which would hide the containers below
    assert.equal(matchTask(layouts, `/kubepods/pod${UID}`), undefined);
    assert.equal(matchTask(layouts, '/kubepods/burstable'), undefined);
    assert.equal(matchTask(layouts, '/default/redis')?.layout, 'containerd');
  });
  test('a custom pattern wins over the built-in layouts', () => {
    const layouts = layoutsFrom(DEFAULT_LAYOUTS, ['^/kubepods/(?<namespace>[a-z]+)/pod[^/]+/(?<id>[0-9a-f]{64})$']);
    assert.deepEqual(matchTask(layouts, `/kubepods/burstable/pod${UID}/${ID}`), { layout: 'custom', namespace: 'burstable', id: ID, attributes: {} });
  });
  test('with the default layouts every task path goes to its own layout (systemd services are not tasks)', () => {
    const layouts = layoutsFrom(DEFAULT_LAYOUTS);
    for (const t of TASKS) {
      const got = matchTask(layouts, t.path);
      if (t.layout === 'systemd') assert.equal(got, undefined, t.path);
      else assert.deepEqual(got, { layout: t.layout, namespace: t.namespace, id: t.id, attributes: t.attributes }, t.path);
    }
    const all = layoutsFrom(['containerd', 'docker', 'kubernetes', 'podman', 'systemd']);
    for (const t of TASKS) assert.equal(matchTask(all, t.path)?.layout, t.layout, t.path);
  });
  test("worthWatching is the union of the layouts' bounds", () => {
    const layouts = layoutsFrom(DEFAULT_LAYOUTS);
    for (const p of [
      '/',
      '/default',
      '/docker',
      '/system.slice',
      '/kubepods',
      '/kubepods/burstable',
      `/kubepods/burstable/pod${UID}`,
      '/kubepods.slice',
      '/machine.slice',
    ]) {
      assert.equal(worthWatching(layouts, p), true, p);
    }
    for (const p of [
      '/default/redis',
      '/system.slice/cron.service',
      `/kubepods/burstable/pod${UID}/${ID}`,
      `/machine.slice/libpod-${ID}.scope`,
      '/init.scope',
      '/docker/x/y',
    ]) {
      assert.equal(worthWatching(layouts, p), false, p);
    }
    assert.equal(worthWatching([], '/'), false);
  });
});

describe('classify: the first layout that claims a directory decides', () => {
  test('a custom pattern listed with the default layouts keeps its tenant directories', () => {
    const layouts = layoutsFrom([...DEFAULT_LAYOUTS], ['^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$']);
    // containerd alone would take /jobs/acme for a task (namespace jobs, id acme).
    assert.equal(classify(layoutsFrom(['containerd']), '/jobs/acme')?.toString(), '[object Object]');
    assert.equal(classify(layouts, '/jobs'), 'descend');
    assert.equal(classify(layouts, '/jobs/acme'), 'descend');
    assert.deepEqual(classify(layouts, '/jobs/acme/build-7'), { layout: 'custom', namespace: 'acme', id: 'build-7', attributes: {} });
    // The defaults still work beside it.
    assert.equal(classify(layouts, '/default'), 'descend');
    assert.deepEqual(classify(layouts, '/default/web'), {
      layout: 'containerd',
      namespace: 'default',
      id: 'web',
      attributes: { 'container.runtime.name': 'containerd' },
    });
    assert.equal(classify(layouts, '/kubepods'), 'descend');
    assert.equal(classify(layouts, '/system.slice/cron.service'), undefined);
  });
});

describe('the registry: one entry per built-in layout, everything else derived from it', () => {
  test('names are unique; the known names, the defaults and layoutsFrom all come from the registry', () => {
    const names = BUILTIN_LAYOUTS.map((l) => l.name);
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual([...BUILTIN_LAYOUT_NAMES], [...names].sort());
    assert.deepEqual(
      [...DEFAULT_LAYOUTS],
      BUILTIN_LAYOUTS.filter((l) => l.onByDefault)
        .map((l) => l.name)
        .sort(),
    );
    assert.deepEqual(
      layoutsFrom(BUILTIN_LAYOUT_NAMES).map((l) => l.name),
      names,
      'layoutsFrom keeps the registry order (the precedence)',
    );
  });
  test("each layout's task paths lie under one of the top directories it claims", () => {
    for (const def of BUILTIN_LAYOUTS) {
      if (def.topDirectories.length === 0) continue;
      for (const t of TASKS.filter((x) => x.layout === def.name)) {
        assert.ok(def.topDirectories.includes(t.path.split('/')[1] as string), `${t.path} is not under ${def.topDirectories.join(', ')}`);
      }
    }
  });
  test('containerd takes none of the directories the other layouts claim, neither as a namespace nor as a task', () => {
    const l = builtinLayout('containerd');
    for (const def of BUILTIN_LAYOUTS) {
      for (const dir of def.topDirectories) {
        assert.equal(l.mayContain(`/${dir}`), false, `/${dir}`);
        assert.equal(l.match(`/${dir}/x`), undefined, `/${dir}/x`);
        assert.equal(l.match(`/default/${dir}`), undefined, `/default/${dir}`);
      }
    }
  });
  test("a built-in layout's matcher carries its registry name", () => {
    for (const name of BUILTIN_LAYOUT_NAMES satisfies readonly BuiltinLayoutName[]) assert.equal(builtinLayout(name).name, name);
  });
});
