/**
 * Locating cgroup hierarchies: from mountinfo texts (pure), from this machine's own
 * /proc/self/mountinfo, and from directories given as --root.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cgroupMountsFromDirectory, cgroupMountsFromMountInfo, hostCgroupMounts, type CgroupMounts, type Hierarchy } from '../../src/cgroup/mounts.ts';
import { NoCgroupMountError } from '../../src/errors.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const V1 = path.join(repo, 'test/fixtures/cgroup-v1-kernel-6.18');
const V2 = path.join(repo, 'test/fixtures/cgroup-v2-kernel-6.18');

/** Controllers → mount point, for compact assertions. */
function byController(m: CgroupMounts): Record<string, string> {
  return Object.fromEntries([...m.v1.entries()].map(([c, h]) => [c, h.mountPoint]).sort(([a], [b]) => String(a).localeCompare(String(b))));
}

const HYBRID = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
23 22 0:6 / /sys/kernel/security rw,nosuid,nodev,noexec,relatime shared:8 - securityfs securityfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

describe('cgroupMountsFromMountInfo', () => {
  test("this machine's hybrid layout: nine v1 hierarchies plus cgroup2 at /sys/fs/cgroup/unified", () => {
    const m = cgroupMountsFromMountInfo(HYBRID);
    assert.equal(m.mode, 'hybrid');
    assert.deepEqual(byController(m), {
      blkio: '/sys/fs/cgroup/blkio',
      cpu: '/sys/fs/cgroup/cpu',
      cpuacct: '/sys/fs/cgroup/cpuacct',
      cpuset: '/sys/fs/cgroup/cpuset',
      devices: '/sys/fs/cgroup/devices',
      freezer: '/sys/fs/cgroup/freezer',
      memory: '/sys/fs/cgroup/memory',
      'name=systemd': '/sys/fs/cgroup/systemd',
      pids: '/sys/fs/cgroup/pids',
    });
    assert.deepEqual(m.v2, { mountPoint: '/sys/fs/cgroup/unified', root: '/', controllers: [] });
    assert.deepEqual(m.v1.get('memory'), { mountPoint: '/sys/fs/cgroup/memory', root: '/', controllers: ['memory'] });
    assert.notEqual(m.v1.get('cpu'), m.v1.get('cpuacct'), 'separately mounted cpu and cpuacct are two hierarchies');
    assert.equal(m.v1.has('hugetlb'), false);
  });

  test('pure v2: one cgroup2 mount at /sys/fs/cgroup', () => {
    const m = cgroupMountsFromMountInfo(
      '22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n' +
        '26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n',
    );
    assert.equal(m.mode, 'v2');
    assert.equal(m.v1.size, 0);
    assert.deepEqual(m.v2, { mountPoint: '/sys/fs/cgroup', root: '/', controllers: [] });
  });

  test('v1 with cpu,cpuacct co-mounted: both controllers map to the same hierarchy', () => {
    const m = cgroupMountsFromMountInfo(
      '25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n' +
        '28 25 0:25 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,release_agent=/usr/lib/systemd/systemd-cgroups-agent,name=systemd\n' +
        '31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct\n' +
        '32 25 0:29 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory\n' +
        '33 25 0:30 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,net_cls,net_prio\n' +
        '34 25 0:31 / /sys/fs/cgroup/hugetlb rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,hugetlb\n',
    );
    assert.equal(m.mode, 'v1');
    assert.equal(m.v2, undefined);
    const cpu = m.v1.get('cpu');
    assert.ok(cpu);
    assert.equal(m.v1.get('cpuacct'), cpu, 'the same Hierarchy object');
    assert.deepEqual(cpu, { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/', controllers: ['cpu', 'cpuacct'] });
    assert.equal(m.v1.get('net_cls'), m.v1.get('net_prio'));
    assert.equal(m.v1.get('hugetlb')?.mountPoint, '/sys/fs/cgroup/hugetlb');
    assert.deepEqual(m.v1.get('name=systemd')?.controllers, ['name=systemd'], 'xattr and release_agent= are options, not controllers');
  });

  test('a namespaced mount root (`/docker/abc`) is kept as the hierarchy root', () => {
    const m = cgroupMountsFromMountInfo(
      '700 690 0:29 /docker/abc /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime master:12 - cgroup cgroup rw,cpu\n' +
        '701 690 0:32 /docker/abc /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:15 - cgroup cgroup rw,memory\n' +
        '702 690 0:38 /docker/abc /sys/fs/cgroup/unified ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw\n',
    );
    assert.equal(m.mode, 'hybrid');
    assert.deepEqual(m.v1.get('cpu'), { mountPoint: '/sys/fs/cgroup/cpu', root: '/docker/abc', controllers: ['cpu'] });
    assert.deepEqual(m.v1.get('memory'), { mountPoint: '/sys/fs/cgroup/memory', root: '/docker/abc', controllers: ['memory'] });
    assert.deepEqual(m.v2, { mountPoint: '/sys/fs/cgroup/unified', root: '/docker/abc', controllers: [] });
  });

  test('the first mount of a hierarchy wins over later bind mounts', () => {
    const m = cgroupMountsFromMountInfo(
      '32 31 0:29 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n' + '90 80 0:29 /sub /mnt/other rw - cgroup cgroup rw,memory\n',
    );
    assert.equal(m.mode, 'v1');
    assert.deepEqual(m.v1.get('memory'), { mountPoint: '/sys/fs/cgroup/memory', root: '/', controllers: ['memory'] });
  });

  test('no cgroup lines → NoCgroupMountError', () => {
    for (const text of [
      '',
      '22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n',
      // Only a named hierarchy: nothing we can read.
      '40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n',
    ]) {
      assert.throws(
        () => cgroupMountsFromMountInfo(text),
        (e: unknown) => {
          assert.ok(e instanceof NoCgroupMountError);
          assert.equal(e.code, 'NO_CGROUP_MOUNT');
          assert.equal(e.message, 'no cgroup hierarchy found: mountinfo lists no cgroup or cgroup2 filesystem');
          return true;
        },
      );
    }
  });
});

describe('hostCgroupMounts on this machine', () => {
  test('matches /proc/self/mountinfo (hybrid here: v1 hierarchies + /sys/fs/cgroup/unified)', () => {
    const text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    // Independent reading of the fs type (field after ` - `) and mount point (field 5).
    const cg = text
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 6)
      .map((f) => {
        const sep = f.indexOf('-', 6);
        return { mountPoint: f[4] ?? '', fsType: f[sep + 1] ?? '', opts: (f[sep + 3] ?? '').split(',') };
      })
      .filter((x) => x.fsType === 'cgroup' || x.fsType === 'cgroup2');
    assert.ok(cg.length > 0, `/proc/self/mountinfo lists no cgroup or cgroup2 filesystem: this test needs a cgroup mount (CI=${process.env.CI ?? 'unset'})`);
    const readable = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids', 'hugetlb'];
    const hasV1 = cg.some((x) => x.fsType === 'cgroup' && x.opts.some((o) => readable.includes(o)));
    const v2 = cg.find((x) => x.fsType === 'cgroup2');
    const expectedMode = hasV1 ? (v2 ? 'hybrid' : 'v1') : 'v2';

    const m = hostCgroupMounts();
    assert.equal(m.mode, expectedMode);
    assert.equal(m.v2?.mountPoint, v2?.mountPoint);
    for (const x of cg.filter((y) => y.fsType === 'cgroup')) {
      for (const o of x.opts.filter((y) => readable.includes(y))) assert.equal(m.v1.get(o)?.mountPoint, x.mountPoint, o);
    }
    if (expectedMode === 'hybrid') {
      // This machine: separate hierarchies for every controller, cgroup2 at /sys/fs/cgroup/unified.
      assert.equal(m.v2?.mountPoint, '/sys/fs/cgroup/unified');
      for (const c of ['cpu', 'cpuacct', 'memory', 'blkio', 'pids']) assert.ok(m.v1.has(c), `${c} hierarchy`);
    }
    assert.deepEqual(hostCgroupMounts('/proc/self/mountinfo'), m);
  });

  test('an unreadable mountinfo path → NoCgroupMountError naming it', () => {
    assert.throws(
      () => hostCgroupMounts('/nonexistent/ocm/mountinfo'),
      (e: unknown) => {
        assert.ok(e instanceof NoCgroupMountError);
        assert.match(e.message, /^no cgroup hierarchy found: cannot read \/nonexistent\/ocm\/mountinfo: ENOENT/);
        return true;
      },
    );
  });
});

describe('cgroupMountsFromDirectory', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-mounts-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  test('the v1 fixture tree → v1, one hierarchy per sub-directory, root /', () => {
    const m = cgroupMountsFromDirectory(V1);
    assert.equal(m.mode, 'v1');
    assert.equal(m.v2, undefined);
    // cpuset is in the tree but not a controller we read.
    assert.deepEqual(byController(m), {
      blkio: path.join(V1, 'blkio'),
      cpu: path.join(V1, 'cpu'),
      cpuacct: path.join(V1, 'cpuacct'),
      memory: path.join(V1, 'memory'),
      pids: path.join(V1, 'pids'),
    });
    for (const h of m.v1.values()) assert.equal(h.root, '/');
  });

  test('each v2 fixture dir → v2 with the dir as the mount point; relative paths are made absolute', () => {
    for (const d of ['loaded', 'after_exit', 'self', 'oomed', 'root']) {
      const m = cgroupMountsFromDirectory(path.join(V2, d));
      assert.deepEqual(m, { mode: 'v2', v1: new Map(), v2: { mountPoint: path.join(V2, d), root: '/', controllers: [] } }, d);
    }
    const rel = path.relative(process.cwd(), path.join(V2, 'loaded'));
    assert.equal(cgroupMountsFromDirectory(rel).v2?.mountPoint, path.join(V2, 'loaded'));
  });

  test('a `cpu,cpuacct` directory with `cpu` and `cpuacct` symlinks to it: the real directory wins for both', () => {
    const root = path.join(tmp, 'comount');
    fs.mkdirSync(path.join(root, 'cpu,cpuacct'), { recursive: true });
    fs.mkdirSync(path.join(root, 'memory'));
    fs.writeFileSync(path.join(root, 'cpu,cpuacct', 'cgroup.procs'), '');
    fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpu'));
    fs.symlinkSync('cpu,cpuacct', path.join(root, 'cpuacct'));
    const m = cgroupMountsFromDirectory(root);
    assert.equal(m.mode, 'v1');
    const h = m.v1.get('cpu');
    assert.ok(h);
    assert.equal(m.v1.get('cpuacct'), h, 'one Hierarchy for both');
    assert.deepEqual(h, { mountPoint: path.join(root, 'cpu,cpuacct'), root: '/', controllers: ['cpu', 'cpuacct'] } satisfies Hierarchy);
    assert.equal(m.v1.get('memory')?.mountPoint, path.join(root, 'memory'));
  });

  test('only symlinks (`cpu -> elsewhere`) are still used when no real directory names the controller', () => {
    const root = path.join(tmp, 'links');
    fs.mkdirSync(root);
    fs.symlinkSync(path.join(V1, 'cpu'), path.join(root, 'cpu'));
    const m = cgroupMountsFromDirectory(root);
    assert.equal(m.mode, 'v1');
    assert.equal(m.v1.get('cpu')?.mountPoint, path.join(root, 'cpu'));
  });

  test('a tree with a cgroup2 `unified` directory → hybrid', () => {
    const root = path.join(tmp, 'hybrid');
    fs.mkdirSync(path.join(root, 'memory'), { recursive: true });
    fs.mkdirSync(path.join(root, 'pids'));
    fs.mkdirSync(path.join(root, 'unified'));
    fs.writeFileSync(path.join(root, 'unified', 'cgroup.controllers'), '');
    const m = cgroupMountsFromDirectory(root);
    assert.equal(m.mode, 'hybrid');
    assert.deepEqual(m.v2, { mountPoint: path.join(root, 'unified'), root: '/', controllers: [] });
    assert.deepEqual(byController(m), { memory: path.join(root, 'memory'), pids: path.join(root, 'pids') });
  });

  test('a `unified` directory without cgroup.controllers is not a cgroup2 mount', () => {
    const root = path.join(tmp, 'fakeunified');
    fs.mkdirSync(path.join(root, 'memory'), { recursive: true });
    fs.mkdirSync(path.join(root, 'unified'));
    const m = cgroupMountsFromDirectory(root);
    assert.equal(m.mode, 'v1');
    assert.equal(m.v2, undefined);
  });

  test('an unusable directory → NoCgroupMountError naming the directory', () => {
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    fs.writeFileSync(path.join(empty, 'cpu'), 'a file, not a hierarchy');
    fs.mkdirSync(path.join(empty, 'devices'));
    assert.throws(
      () => cgroupMountsFromDirectory(empty),
      (e: unknown) => {
        assert.ok(e instanceof NoCgroupMountError);
        assert.equal(e.code, 'NO_CGROUP_MOUNT');
        assert.ok(e.message.includes(`--root ${empty} is neither a cgroup2 directory`), e.message);
        return true;
      },
    );
    const missing = path.join(tmp, 'no-such-dir');
    assert.throws(
      () => cgroupMountsFromDirectory(missing),
      (e: unknown) => {
        assert.ok(e instanceof NoCgroupMountError);
        assert.ok(e.message.startsWith(`no cgroup hierarchy found: cannot read --root ${missing}: ENOENT`), e.message);
        return true;
      },
    );
    const file = path.join(V1, 'cpu', 'cpu.stat');
    assert.throws(
      () => cgroupMountsFromDirectory(file),
      (e: unknown) => e instanceof NoCgroupMountError && e.message.includes(`cannot read --root ${file}: ENOTDIR`),
    );
  });
});
