/**
 * resolveCgroup on REAL cgroups of this machine (root, writable v1 hierarchies, a cgroup2
 * mount at /sys/fs/cgroup/unified), plus the refusals (paths leaving the mount, missing
 * cgroups, dead pids) and fixture-copy trees for symlink escapes and namespaced roots.
 *
 * Needs root and the hybrid mounts: without them every test here fails with a message
 * saying so (never skips).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cgroupMountsFromDirectory, cgroupMountsFromMountInfo, hostCgroupMounts, type CgroupMounts } from '../../src/cgroup/mounts.ts';
import { readStats } from '../../src/cgroup/read.ts';
import { normalizeCgroupPath, resolveCgroup } from '../../src/cgroup/resolve.ts';
import type { TaskCgroup } from '../../src/cgroup/types.ts';
import { CgroupNotFoundError, PathOutsideMountError } from '../../src/errors.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const V1_FIXTURE = path.join(repo, 'test/fixtures/cgroup-v1-kernel-6.18');
const V2_FIXTURE = path.join(repo, 'test/fixtures/cgroup-v2-kernel-6.18');

const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'blkio'] as const;
const NAME = `ocm-test-resolve-${randomBytes(6).toString('hex')}`;

function isCgroupNotFound(pathInMessage: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CgroupNotFoundError, `expected CgroupNotFoundError, got ${String(e)}`);
    assert.equal(e.code, 'CGROUP_NOT_FOUND');
    assert.ok(e.message.startsWith(`cgroup not found: ${pathInMessage}`), e.message);
    return true;
  };
}
function isOutside(p: string, mountPoint: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof PathOutsideMountError, `expected PathOutsideMountError, got ${String(e)}`);
    assert.equal(e.code, 'PATH_OUTSIDE_MOUNT');
    assert.equal(e.path, p);
    assert.equal(e.mountPoint, mountPoint);
    assert.equal(e.message, `cgroup path ${JSON.stringify(p)} leaves the cgroup mount ${mountPoint}; give a path inside it`);
    return true;
  };
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** rmdir with retries: a cgroup stays busy for a moment after its last task exits. */
function rmdirCgroup(dir: string): string | undefined {
  for (let i = 0; i < 50; i++) {
    try {
      fs.rmdirSync(dir);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code !== 'EBUSY') return `${dir}: ${code}`;
      sleepMs(20);
    }
  }
  return `${dir}: still busy`;
}

describe('resolveCgroup on real cgroups', () => {
  let mounts: CgroupMounts | undefined;
  let setupError: Error | undefined;
  const created: string[] = [];
  let sleeper: ChildProcess | undefined;
  let sleeperExit: Promise<unknown> | undefined;

  /** Every test calls this: a missing prerequisite is a failure with a clear message, never a skip. */
  function real(): { mounts: CgroupMounts; dirs: Record<(typeof CONTROLLERS)[number], string>; unified: string } {
    if (setupError) throw setupError;
    assert.ok(mounts, 'setup did not run');
    const dirs = Object.fromEntries(CONTROLLERS.map((c) => [c, path.join(mounts?.v1.get(c)?.mountPoint ?? '?', NAME)])) as Record<
      (typeof CONTROLLERS)[number],
      string
    >;
    return { mounts, dirs, unified: path.join(mounts.v2?.mountPoint ?? '?', NAME) };
  }

  before(() => {
    try {
      assert.equal(process.getuid?.(), 0, `resolve.test.ts needs root to create cgroups (uid ${process.getuid?.()}, CI=${process.env.CI ?? 'unset'})`);
      const m = hostCgroupMounts();
      assert.equal(m.mode, 'hybrid', `resolve.test.ts needs the hybrid layout (v1 hierarchies + cgroup2 unified); this host is ${m.mode}`);
      for (const c of CONTROLLERS) assert.ok(m.v1.has(c), `no v1 ${c} hierarchy in /proc/self/mountinfo`);
      assert.ok(m.v2, 'no cgroup2 mount');
      mounts = m;
      for (const c of CONTROLLERS) {
        const dir = path.join(m.v1.get(c)?.mountPoint ?? '', NAME);
        fs.mkdirSync(dir);
        created.push(dir);
      }
      const u = path.join(m.v2.mountPoint, NAME);
      fs.mkdirSync(u);
      created.push(u);
      // A child only in the memory hierarchy (created after its parent, removed before it).
      const child = path.join(m.v1.get('memory')?.mountPoint ?? '', NAME, 'child');
      fs.mkdirSync(child);
      created.push(child);
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
    }
  });

  after(async () => {
    const problems: string[] = [];
    if (sleeper && sleeper.exitCode === null && sleeper.signalCode === null && sleeper.pid !== undefined) {
      process.kill(sleeper.pid, 'SIGKILL');
    }
    await sleeperExit;
    for (const dir of [...created].reverse()) {
      const p = rmdirCgroup(dir);
      if (p) problems.push(p);
    }
    assert.deepEqual(problems, [], 'every test cgroup removed');
    for (const dir of created) assert.equal(fs.existsSync(dir), false, dir);
  });

  test('by path: all five v1 directories and the cgroup2 twin', () => {
    const { mounts: m, dirs, unified } = real();
    const want: TaskCgroup = { version: 1, path: `/${NAME}`, dirs: { ...dirs }, unified };
    assert.deepEqual(resolveCgroup(m, `/${NAME}`), want);
    // Relative, trailing slash, `.` and a `..` that stays inside all normalise to the same cgroup.
    assert.deepEqual(resolveCgroup(m, NAME), want);
    assert.deepEqual(resolveCgroup(m, `/./${NAME}/`), want);
    assert.deepEqual(resolveCgroup(m, `/nonexistent/../${NAME}`), want);
    for (const d of [...Object.values(dirs), unified]) assert.ok(fs.statSync(d).isDirectory(), d);
  });

  test('by path: a cgroup that exists in one hierarchy only gives that directory and no unified twin', () => {
    const { mounts: m, dirs } = real();
    assert.deepEqual(resolveCgroup(m, `/${NAME}/child`), { version: 1, path: `/${NAME}/child`, dirs: { memory: path.join(dirs.memory, 'child') } });
  });

  test('the root cgroup resolves to the mount points themselves', () => {
    const { mounts: m } = real();
    const cg = resolveCgroup(m, '/');
    assert.equal(cg.version, 1);
    if (cg.version !== 1) return;
    assert.equal(cg.path, '/');
    for (const c of CONTROLLERS) assert.equal(cg.dirs[c], m.v1.get(c)?.mountPoint, c);
    assert.equal(cg.unified, m.v2?.mountPoint);
  });

  test('by pid: a `sleep 30` moved into the test cgroups', async () => {
    const { mounts: m, dirs, unified } = real();
    sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    sleeperExit = new Promise((resolve) => sleeper?.once('exit', resolve));
    const pid = sleeper.pid;
    assert.ok(pid !== undefined, 'sleep started');
    for (const d of [...Object.values(dirs), unified]) fs.writeFileSync(path.join(d, 'cgroup.procs'), String(pid));

    const procCgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    for (const c of CONTROLLERS) assert.match(procCgroup, new RegExp(`^\\d+:${c}:/${NAME}$`, 'm'), c);
    assert.match(procCgroup, new RegExp(`^0::/${NAME}$`, 'm'));

    const cg = resolveCgroup(m, { pid });
    assert.deepEqual(cg, { version: 1, path: `/${NAME}`, dirs: { ...dirs }, unified });
    assert.deepEqual(cg, resolveCgroup(m, `/${NAME}`), 'the same as by path');

    // The resolved directories are the live ones: the pids cgroup counts exactly the sleep.
    const r = readStats(cg, new Set(['pids', 'memory']));
    assert.deepEqual(r.errors, []);
    assert.equal(r.gone, false);
    assert.deepEqual(r.stats.pids, { current: 1 }, 'pids.max `max` is absent');
    assert.ok(
      r.stats.version === 1 && (r.stats.memory?.usage ?? 0) > 0,
      `memory.usage_in_bytes of a cgroup with a live process: ${JSON.stringify(r.stats.memory)}`,
    );
    assert.equal(fs.readFileSync(path.join(dirs.pids, 'cgroup.procs'), 'utf8'), `${pid}\n`);
  });

  test('by pid: this test process (in the root of most hierarchies here) resolves without error', () => {
    const { mounts: m } = real();
    const cg = resolveCgroup(m, { pid: process.pid });
    assert.equal(cg.version, 1);
    if (cg.version !== 1) return;
    const lines = fs.readFileSync(`/proc/${process.pid}/cgroup`, 'utf8');
    for (const c of CONTROLLERS) {
      const line = lines.split('\n').find((l) => l.split(':')[1]?.split(',').includes(c));
      assert.ok(line, c);
      const rel = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
      const mp = m.v1.get(c)?.mountPoint ?? '';
      assert.equal(cg.dirs[c], rel === '/' ? mp : path.join(mp, rel), c);
    }
  });

  test('a path with `..` climbing out of the mount → PathOutsideMountError naming the path', () => {
    const { mounts: m } = real();
    const first = m.v1.get('cpu')?.mountPoint ?? '';
    assert.throws(() => resolveCgroup(m, '/../../etc'), isOutside('/../../etc', first));
    assert.throws(() => resolveCgroup(m, `/${NAME}/../../x`), isOutside(`/${NAME}/../../x`, first));
    assert.throws(() => resolveCgroup(m, '..'), isOutside('..', first));
    assert.throws(() => resolveCgroup(m, `/${NAME}\0/etc`), isOutside(`/${NAME}\0/etc`, first));
  });

  test('a missing cgroup → CgroupNotFoundError naming the path and the hierarchies searched', () => {
    const { mounts: m } = real();
    const missing = `/${NAME}-missing`;
    assert.throws(() => resolveCgroup(m, missing), isCgroupNotFound(missing));
    assert.throws(
      () => resolveCgroup(m, missing),
      (e: unknown) => e instanceof CgroupNotFoundError && e.path === missing && e.message.includes('/sys/fs/cgroup/memory'),
    );
  });

  test('a dead pid → CgroupNotFoundError', () => {
    const { mounts: m } = real();
    const r = spawnSync('true');
    assert.equal(r.status, 0);
    const pid = r.pid;
    assert.equal(fs.existsSync(`/proc/${pid}`), false, `pid ${pid} was reaped`);
    assert.throws(() => resolveCgroup(m, { pid }), isCgroupNotFound(`pid:${pid}`));
    assert.throws(
      () => resolveCgroup(m, { pid }),
      (e: unknown) => e instanceof Error && e.message.includes(`cannot read /proc/${pid}/cgroup: ENOENT`),
    );
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => resolveCgroup(m, { pid: bad }),
        (e: unknown) => e instanceof CgroupNotFoundError && e.message === `cgroup not found: pid:${bad} (not a valid pid)`,
      );
    }
  });
});

describe('resolveCgroup on fixture-copy trees', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-resolve-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const outside = path.join(tmp, 'outside');
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'cgroup.procs'), '');
  fs.writeFileSync(path.join(outside, 'secret'), 'not a cgroup file\n');

  const v2 = path.join(tmp, 'v2');
  fs.cpSync(path.join(V2_FIXTURE, 'loaded'), v2, { recursive: true });
  fs.chmodSync(v2, 0o755);
  fs.mkdirSync(path.join(v2, 'sub'));
  fs.symlinkSync('../outside', path.join(v2, 'escape'));
  fs.symlinkSync(outside, path.join(v2, 'escape-abs'));
  fs.symlinkSync('sub', path.join(v2, 'inner'));

  const v1 = path.join(tmp, 'v1');
  fs.cpSync(V1_FIXTURE, v1, { recursive: true });
  for (const c of ['memory', 'cpu']) fs.chmodSync(path.join(v1, c), 0o755);
  fs.symlinkSync(outside, path.join(v1, 'memory', 'escape'));
  fs.mkdirSync(path.join(v1, 'cpu', 'task1'));

  test('a symlink in a v2 tree pointing outside the mount → PathOutsideMountError', () => {
    const m = cgroupMountsFromDirectory(v2);
    assert.throws(() => resolveCgroup(m, '/escape'), isOutside('/escape', v2));
    // The error names the cgroup path as normalised (absolute).
    assert.throws(() => resolveCgroup(m, 'escape-abs'), isOutside('/escape-abs', v2));
  });

  test('a symlink in a v1 hierarchy pointing outside the mount → PathOutsideMountError', () => {
    const m = cgroupMountsFromDirectory(v1);
    assert.throws(() => resolveCgroup(m, '/escape'), isOutside('/escape', path.join(v1, 'memory')));
  });

  test('a symlink that stays inside the mount is followed; files are not cgroups', () => {
    const m = cgroupMountsFromDirectory(v2);
    assert.deepEqual(resolveCgroup(m, '/inner'), { version: 2, path: '/inner', dir: path.join(v2, 'inner') });
    assert.deepEqual(resolveCgroup(m, '/sub'), { version: 2, path: '/sub', dir: path.join(v2, 'sub') });
    assert.throws(() => resolveCgroup(m, '/cpu.stat'), isCgroupNotFound('/cpu.stat'));
    assert.throws(
      () => resolveCgroup(m, '/missing'),
      (e: unknown) => e instanceof CgroupNotFoundError && e.message === `cgroup not found: /missing (no directory ${path.join(v2, 'missing')})`,
    );
    assert.throws(() => resolveCgroup(m, '/../outside'), isOutside('/../outside', v2));
  });

  test('v1 tree: a cgroup present in one hierarchy only', () => {
    const m = cgroupMountsFromDirectory(v1);
    assert.deepEqual(resolveCgroup(m, '/task1'), { version: 1, path: '/task1', dirs: { cpu: path.join(v1, 'cpu', 'task1') } });
  });

  test('by pid with a /proc copy: a namespaced mount root (`/docker/abc`) is stripped from /proc/<pid>/cgroup paths', () => {
    const root = path.join(tmp, 'ns');
    for (const d of ['cpu/task1', 'memory/task1', 'unified/task1']) fs.mkdirSync(path.join(root, d), { recursive: true });
    const m = cgroupMountsFromMountInfo(
      `700 690 0:29 /docker/abc ${root}/cpu rw - cgroup cgroup rw,cpu\n` +
        `701 690 0:32 /docker/abc ${root}/memory rw - cgroup cgroup rw,memory\n` +
        `702 690 0:38 /docker/abc ${root}/unified rw - cgroup2 cgroup2 rw\n`,
    );
    const proc = path.join(tmp, 'proc');
    fs.mkdirSync(path.join(proc, '4242'), { recursive: true });
    fs.mkdirSync(path.join(proc, '4343'), { recursive: true });
    // Seen from the host: full hierarchy paths.
    fs.writeFileSync(
      path.join(proc, '4242', 'cgroup'),
      '4:memory:/docker/abc/task1\n2:cpu:/docker/abc/task1\n1:name=systemd:/docker/abc\n0::/docker/abc/task1\n',
    );
    // Seen from inside the cgroup namespace: already relative.
    fs.writeFileSync(path.join(proc, '4343', 'cgroup'), '4:memory:/task1\n2:cpu:/task1\n0::/task1\n');
    const want = {
      version: 1,
      path: '/task1',
      dirs: { cpu: path.join(root, 'cpu/task1'), memory: path.join(root, 'memory/task1') },
      unified: path.join(root, 'unified/task1'),
    };
    assert.deepEqual(resolveCgroup(m, { pid: 4242 }, proc), want);
    assert.deepEqual(resolveCgroup(m, { pid: 4343 }, proc), want);
    assert.throws(
      () => resolveCgroup(m, { pid: 4444 }, proc),
      (e: unknown) => e instanceof CgroupNotFoundError && e.message.includes(`cannot read ${path.join(proc, '4444', 'cgroup')}: ENOENT`),
    );
  });

  test('by pid on a v2 tree with a /proc copy: the 0:: line, and its absence', () => {
    const m = cgroupMountsFromDirectory(v2);
    const proc = path.join(tmp, 'proc2');
    for (const [pid, text] of [
      ['10', '0::/sub\n'],
      ['11', '3:memory:/sub\n'],
      ['12', '0::/gone\n'],
      ['13', '0::/escape\n'],
    ] as const) {
      fs.mkdirSync(path.join(proc, pid), { recursive: true });
      fs.writeFileSync(path.join(proc, pid, 'cgroup'), text);
    }
    assert.deepEqual(resolveCgroup(m, { pid: 10 }, proc), { version: 2, path: '/sub', dir: path.join(v2, 'sub') });
    assert.throws(
      () => resolveCgroup(m, { pid: 11 }, proc),
      (e: unknown) => e instanceof CgroupNotFoundError && e.message.includes('has no 0:: line'),
    );
    assert.throws(
      () => resolveCgroup(m, { pid: 12 }, proc),
      (e: unknown) => e instanceof CgroupNotFoundError && e.message.includes(`its cgroup /gone is not under ${v2}`),
    );
    assert.throws(() => resolveCgroup(m, { pid: 13 }, proc), isOutside('/escape', v2));
  });

  test('normalizeCgroupPath', () => {
    assert.equal(normalizeCgroupPath('', '/m'), '/');
    assert.equal(normalizeCgroupPath('/', '/m'), '/');
    assert.equal(normalizeCgroupPath('a//b/./c/', '/m'), '/a/b/c');
    assert.equal(normalizeCgroupPath('/a/b/../c', '/m'), '/a/c');
    assert.throws(() => normalizeCgroupPath('/a/../..', '/m'), isOutside('/a/../..', '/m'));
  });
});
