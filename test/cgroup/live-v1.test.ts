/**
 * readStats on LIVE cgroup v1 hierarchies of this machine: real workloads run as child
 * processes placed in fresh cgroups, and the readings must show what they did.
 *
 *   - a CPU burner (600 ms of CPU)          → cpuacct usage_user + usage_sys ≥ 0.8 × burn
 *   - a 64 MiB touched allocation            → memory.usage_in_bytes ≥ 64 MiB, total_rss grows by ≥ 64 MiB
 *   - dd of 32 MiB with oflag=direct        → blkio writeBytes ≥ 32 MiB on the disk behind the file
 *     (the v1 blkio counters stay `Total 0` without a throttle rule: the test sets a 1 GB/s one)
 *   - `sh` forking three `sleep`s            → pids.current = 4
 *
 * Every child waits for a line on stdin before it works, so that it is inside its cgroup
 * before the work starts (memory is charged to the cgroup a page is faulted in, CPU to the
 * cgroup the task runs in). Each workload gets its own sub-cgroup of `ocm-live-<random>`.
 *
 * Needs root and the v1 cpu, cpuacct, memory, blkio and pids hierarchies: without them every
 * test fails with a message saying so (never skips). Cleanup (children killed, throttle rule
 * removed, leftover pids moved to the root, cgroups removed) runs whatever happens.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { hostCgroupMounts, type CgroupMounts } from '../../src/cgroup/mounts.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { DEFAULT_GROUPS, type MetricGroup, type ReadResult, type TaskCgroup, type V1Stats } from '../../src/cgroup/types.ts';

const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'blkio', 'pids'] as const;
type Controller = (typeof CONTROLLERS)[number];
const NAME = `ocm-live-${randomBytes(6).toString('hex')}`;
const MiB = 1024 * 1024;

const BURN_MS = 600;
const ALLOC_BYTES = 64 * MiB;
const DD_MIB = 32;

// ---------------------------------------------------------------------------------------------
// Helpers: sleeping, cgroup dirs, child processes

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function procsOf(dir: string): number[] {
  try {
    return fs
      .readFileSync(path.join(dir, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Moves whatever is left in `dir` (and below) to the hierarchy root, then rmdirs, retrying while busy. */
function removeCgroup(dir: string, root: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  let subs: string[] = [];
  try {
    subs = fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(dir, e.name));
  } catch {
    /* gone meanwhile */
  }
  const problems = subs.map((s) => removeCgroup(s, root)).filter((p): p is string => p !== undefined);
  for (let i = 0; i < 100; i++) {
    for (const pid of procsOf(dir)) {
      try {
        fs.writeFileSync(path.join(root, 'cgroup.procs'), String(pid));
      } catch {
        /* exited meanwhile */
      }
    }
    try {
      fs.rmdirSync(dir);
      return problems.length ? problems.join('; ') : undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return problems.length ? problems.join('; ') : undefined;
      if (code !== 'EBUSY') return `${dir}: ${code}`;
      sleepMs(20);
    }
  }
  return `${dir}: still busy (procs: ${procsOf(dir).join(',')})`;
}

interface Worker {
  child: ChildProcess;
  pid: number;
  /** The next stdout line (children print `ready` and JSON lines). */
  line(timeoutMs?: number): Promise<string>;
  /** Tells the child to start working. */
  go(): void;
  exited: Promise<void>;
}

const workers: Worker[] = [];

/**
 * Starts a child that blocks on stdin (`detached`: its own process group, so that killing the
 * group takes its children too). The caller moves it into a cgroup, then calls go().
 */
function startWorker(cmd: string, args: string[]): Worker {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true });
  const pid = child.pid;
  assert.ok(pid !== undefined, `${cmd} started`);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  const out = child.stdout;
  assert.ok(out, 'child stdout');
  createInterface({ input: out }).on('line', (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else queue.push(l);
  });
  const w: Worker = {
    child,
    pid,
    line(timeoutMs = 20_000) {
      const q = queue.shift();
      if (q !== undefined) return Promise.resolve(q);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${cmd}: no output line within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((l) => {
          clearTimeout(t);
          resolve(l);
        });
        void exited.then(() =>
          setTimeout(() => reject(new Error(`${cmd} exited (code ${child.exitCode}, signal ${child.signalCode}) before printing a line`)), 50),
        );
      });
    },
    go() {
      child.stdin?.write('go\n');
    },
    exited,
  };
  workers.push(w);
  return w;
}

async function killWorker(w: Worker): Promise<void> {
  if (w.child.exitCode === null && w.child.signalCode === null) {
    try {
      process.kill(-w.pid, 'SIGKILL'); // the whole process group
    } catch {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  w.child.stdin?.destroy();
  await Promise.race([w.exited, delay(5000)]);
}

/** Node children: `ready` once started, then wait for `go`, work, print a JSON result, wait for stdin to close. */
const NODE_CHILD_PRELUDE = `
  const rl = require('node:readline').createInterface({ input: process.stdin });
  const lines = rl[Symbol.asyncIterator]();
  console.log('ready');
`;
const BURNER = `${NODE_CHILD_PRELUDE}
  (async () => {
    await lines.next();
    const c0 = process.cpuUsage();
    const t0 = Date.now();
    let x = 0;
    for (;;) {
      for (let i = 0; i < 1e5; i++) x = (x * 1103515245 + 12345) | 0;
      const c = process.cpuUsage(c0);
      if ((c.user + c.system) / 1000 >= ${BURN_MS}) break;
    }
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({ cpuMs: (c.user + c.system) / 1000, wallMs: Date.now() - t0, x }));
    await lines.next();
    process.exit(0);
  })();
`;
const ALLOCATOR = `${NODE_CHILD_PRELUDE}
  (async () => {
    await lines.next();
    // allocUnsafe + fill: every page is written, so every page is faulted in (and charged) now.
    const buf = Buffer.allocUnsafe(${ALLOC_BYTES}).fill(0x5a);
    console.log(JSON.stringify({ bytes: buf.length, sum: buf[12345] }));
    await lines.next();
    process.exit(buf[0] === 0x5a ? 0 : 1);
  })();
`;

// ---------------------------------------------------------------------------------------------
// Block device behind a directory

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const OVERLAYFS_MAGIC = 0x794c7630;

/** The whole disk (MAJ:MIN) that holds `dir`, for a throttle rule (partitions are mapped to their disk). */
function diskOf(dir: string): { major: number; minor: number; why: string } | string {
  const st = fs.statSync(dir);
  const major = Math.floor(st.dev / 256) & 0xfff; // glibc's gnu_dev_major for small numbers
  const minor = (st.dev & 0xff) | ((st.dev >> 12) & 0xfff00);
  const sys = `/sys/dev/block/${major}:${minor}`;
  if (!fs.existsSync(sys)) return `${dir} is on ${major}:${minor}, which is not a block device (${sys} missing)`;
  const real = fs.realpathSync(sys);
  if (fs.existsSync(path.join(real, 'partition'))) {
    const parent = fs.readFileSync(path.join(path.dirname(real), 'dev'), 'utf8').trim();
    const [ma, mi] = parent.split(':').map(Number);
    return { major: ma ?? -1, minor: mi ?? -1, why: `${dir} is on partition ${path.basename(real)} of ${path.basename(path.dirname(real))} (${parent})` };
  }
  return { major, minor, why: `${dir} is on ${path.basename(real)} (${major}:${minor})` };
}

/** A directory on a real disk (not tmpfs/ramfs/overlay), preferring /var/tmp. */
function diskDir(): { dir: string; major: number; minor: number; why: string } {
  const tried: string[] = [];
  for (const cand of ['/var/tmp', '/tmp', process.cwd()]) {
    try {
      const type = fs.statfsSync(cand).type;
      if (type === TMPFS_MAGIC || type === RAMFS_MAGIC || type === OVERLAYFS_MAGIC) {
        tried.push(`${cand}: filesystem type 0x${type.toString(16)} (tmpfs/ramfs/overlay)`);
        continue;
      }
      const d = diskOf(cand);
      if (typeof d === 'string') {
        tried.push(d);
        continue;
      }
      return { dir: cand, ...d };
    } catch (err) {
      tried.push(`${cand}: ${(err as Error).message}`);
    }
  }
  throw new Error(`live-v1: no directory on a real block device for the O_DIRECT write: ${tried.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------

describe('readStats on live v1 cgroups with real workloads', { timeout: 120_000 }, () => {
  let mounts: CgroupMounts | undefined;
  let setupError: Error | undefined;
  const created: Array<{ dir: string; root: string }> = [];
  const cleanups: Array<() => void> = [];

  /** Every test calls this: a missing prerequisite is a failure with a clear message, never a skip. */
  function real(): CgroupMounts {
    if (setupError) throw setupError;
    assert.ok(mounts, 'setup did not run');
    return mounts;
  }

  /** A fresh `ocm-live-<random>/<sub>` in the five hierarchies, resolved by path. */
  function makeCgroup(sub: string): { cg: Extract<TaskCgroup, { version: 1 }>; dirs: Record<Controller, string> } {
    const m = real();
    const dirs = {} as Record<Controller, string>;
    for (const c of CONTROLLERS) {
      const root = m.v1.get(c)?.mountPoint ?? '?';
      const dir = path.join(root, NAME, sub);
      fs.mkdirSync(dir);
      created.push({ dir, root });
      dirs[c] = dir;
    }
    const cg = resolveCgroup(m, `/${NAME}/${sub}`);
    assert.equal(cg.version, 1);
    if (cg.version !== 1) throw new Error('unreachable');
    assert.deepEqual(cg.dirs, dirs, 'resolveCgroup finds the five directories');
    return { cg, dirs };
  }

  function moveInto(dirs: Record<Controller, string>, pid: number): void {
    for (const c of CONTROLLERS) fs.writeFileSync(path.join(dirs[c], 'cgroup.procs'), String(pid));
    const procCgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    for (const c of CONTROLLERS) {
      const want = path.relative(mounts?.v1.get(c)?.mountPoint ?? '', dirs[c]);
      assert.match(procCgroup, new RegExp(`^\\d+:${c}:/${want}$`, 'm'), `pid ${pid} in ${c}:/${want}`);
    }
  }

  function read(cg: TaskCgroup, groups: readonly MetricGroup[] = DEFAULT_GROUPS): ReadResult & { stats: V1Stats } {
    const r = readStats(cg, new Set(groups), newReadState());
    assert.deepEqual(r.errors, [], 'no read errors');
    assert.equal(r.gone, false);
    assert.equal(r.stats.version, 1);
    return r as ReadResult & { stats: V1Stats };
  }

  before(() => {
    try {
      assert.equal(process.getuid?.(), 0, `live-v1.test.ts needs root to create cgroups and move processes (uid ${process.getuid?.()})`);
      const m = hostCgroupMounts();
      for (const c of CONTROLLERS) {
        assert.ok(m.v1.has(c), `live-v1.test.ts needs the v1 ${c} hierarchy; /proc/self/mountinfo has none (mode ${m.mode})`);
      }
      mounts = m;
      for (const c of CONTROLLERS) {
        const root = m.v1.get(c)?.mountPoint ?? '?';
        const dir = path.join(root, NAME);
        fs.mkdirSync(dir);
        created.push({ dir, root });
      }
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
    }
  });

  after(async () => {
    const problems: string[] = [];
    await Promise.all(workers.map(killWorker));
    for (const f of cleanups.reverse()) {
      try {
        f();
      } catch (err) {
        problems.push(`cleanup: ${(err as Error).message}`);
      }
    }
    for (const { dir, root } of [...created].reverse()) {
      const p = removeCgroup(dir, root);
      if (p) problems.push(p);
    }
    assert.deepEqual(problems, [], 'everything cleaned up');
    for (const { dir } of created) assert.equal(fs.existsSync(dir), false, `${dir} removed`);
  });

  test(`CPU: a ${BURN_MS} ms burner → usage_user + usage_sys ≥ 0.8 × burn`, async () => {
    const { cg, dirs } = makeCgroup('cpu-burn');
    const w = startWorker(process.execPath, ['-e', BURNER]);
    assert.equal(await w.line(), 'ready');
    moveInto(dirs, w.pid);

    const before = read(cg, ['cpu']).stats.cpu;
    assert.ok(before, 'cpu stats');
    const beforeNs = (before.usageUserNs ?? NaN) + (before.usageSysNs ?? NaN);
    assert.ok(beforeNs < 100e6, `an idle child has used < 100 ms in its new cgroup: ${beforeNs} ns`);

    w.go();
    const done = JSON.parse(await w.line()) as { cpuMs: number; wallMs: number };
    assert.ok(done.cpuMs >= BURN_MS, `child burnt ${done.cpuMs} ms`);
    const r = read(cg, ['cpu']);
    const c = r.stats.cpu;
    assert.ok(c, 'cpu stats');
    assert.equal(typeof c.usageUserNs, 'number');
    assert.equal(typeof c.usageSysNs, 'number');
    const usedNs = (c.usageUserNs ?? 0) + (c.usageSysNs ?? 0);
    assert.ok(usedNs >= 0.8 * BURN_MS * 1e6, `cgroup CPU ${usedNs / 1e6} ms ≥ 0.8 × ${BURN_MS} ms`);
    // Units sanity (ns, not µs or ticks): not more than the child's own count plus slack.
    assert.ok(usedNs <= (1.25 * done.cpuMs + 300) * 1e6, `cgroup CPU ${usedNs / 1e6} ms ≤ 1.25 × child's ${done.cpuMs} ms + 300 ms`);
    assert.ok((c.usageUserNs ?? 0) > (c.usageSysNs ?? 0), `a busy loop is user time: user ${c.usageUserNs} sys ${c.usageSysNs}`);
    // cpuacct.usage is the precise runtime; usage_user/usage_sys come from tick samples, so
    // their sum is only close to it.
    const usage = Number(fs.readFileSync(path.join(dirs.cpuacct, 'cpuacct.usage'), 'utf8'));
    assert.ok(usage >= 0.8 * BURN_MS * 1e6, `cpuacct.usage ${usage} ns`);
    assert.ok(Math.abs(usage - usedNs) < 0.2 * usage + 50e6, `cpuacct.usage ${usage} ≈ user+sys ${usedNs}`);
    // cpu hierarchy: no quota, default period, never throttled; usage_user/sys present so no ticks.
    assert.equal(c.cfsQuotaUs, undefined, 'cfs_quota_us -1 → absent');
    assert.equal(c.cfsPeriodUs, 100000);
    assert.equal(c.nrPeriods, 0);
    assert.equal(c.nrThrottled, 0);
    assert.equal(c.throttledTimeNs, 0);
    assert.equal(c.userTicks, undefined);
    assert.equal(c.systemTicks, undefined);

    w.child.stdin?.end('exit\n');
    await w.exited;
    assert.equal(w.child.exitCode, 0);
    // v1 CPU counters survive the last process: the same or higher after exit.
    const afterExit = read(cg, ['cpu']).stats.cpu;
    assert.ok((afterExit?.usageUserNs ?? 0) + (afterExit?.usageSysNs ?? 0) >= usedNs, 'counters kept after exit');
  });

  test(`memory: a ${ALLOC_BYTES / MiB} MiB touched Buffer → usage ≥ allocation, total_rss grows`, async () => {
    const { cg, dirs } = makeCgroup('memory');
    const w = startWorker(process.execPath, ['-e', ALLOCATOR]);
    assert.equal(await w.line(), 'ready');
    moveInto(dirs, w.pid);

    const before = read(cg, ['memory']).stats.memory;
    assert.ok(before?.stat, 'memory.stat read');
    const rssBefore = before.stat.total_rss ?? NaN;
    assert.ok(Number.isInteger(rssBefore), `total_rss before: ${rssBefore}`);

    w.go();
    const done = JSON.parse(await w.line()) as { bytes: number };
    assert.equal(done.bytes, ALLOC_BYTES);
    const m = read(cg, ['memory']).stats.memory;
    assert.ok(m?.stat, 'memory.stat read');
    assert.ok((m.usage ?? 0) >= ALLOC_BYTES, `memory.usage_in_bytes ${m.usage} ≥ ${ALLOC_BYTES}`);
    assert.ok((m.usage ?? 0) < ALLOC_BYTES + 256 * MiB, `memory.usage_in_bytes ${m.usage} is about the allocation, not the whole host`);
    assert.ok((m.maxUsage ?? 0) >= (m.usage ?? Infinity), `max_usage ${m.maxUsage} ≥ usage ${m.usage}`);
    const rss = m.stat.total_rss ?? 0;
    assert.ok(rss - rssBefore >= ALLOC_BYTES, `total_rss grew by ${rss - rssBefore} ≥ ${ALLOC_BYTES} (${rssBefore} → ${rss})`);
    assert.ok(rss <= (m.usage ?? 0), `total_rss ${rss} ≤ usage ${m.usage}`);
    // A fresh cgroup has no limit (the v1 "unlimited" value → absent) and has never failed.
    assert.equal(m.limit, undefined);
    assert.equal(m.failcnt, 0);
    assert.equal(m.oomKill, 0);
    assert.equal(m.underOom, 0);
    // Cross-check against the file itself, read right after.
    const statText = fs.readFileSync(path.join(dirs.memory, 'memory.stat'), 'utf8');
    const fileRss = Number(/^total_rss (\d+)$/m.exec(statText)?.[1]);
    assert.ok(Math.abs(fileRss - rss) < 8 * MiB, `total_rss ${rss} ≈ file ${fileRss}`);

    w.child.stdin?.end('exit\n');
    await w.exited;
    assert.equal(w.child.exitCode, 0);
  });

  test(`disk: dd ${DD_MIB} MiB oflag=direct → writeBytes ≥ ${DD_MIB} MiB on the file's disk (throttle rule)`, async () => {
    const disk = diskDir();
    const { cg, dirs } = makeCgroup('disk');
    const dev = `${disk.major}:${disk.minor}`;
    const rule = path.join(dirs.blkio, 'blkio.throttle.write_bps_device');
    fs.writeFileSync(rule, `${dev} 1000000000`);
    cleanups.push(() => {
      if (fs.existsSync(rule)) fs.writeFileSync(rule, `${dev} 0`);
    });
    assert.match(fs.readFileSync(rule, 'utf8'), new RegExp(`^${dev} 1000000000$`, 'm'), `throttle rule set (${disk.why})`);

    const tmp = fs.mkdtempSync(path.join(disk.dir, 'ocm-live-dd-'));
    const file = path.join(tmp, 'direct.bin');
    cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const before = read(cg, ['disk']).stats.disk;
    assert.ok(before, 'disk stats');
    const beforeDev = before.devices.find((d) => d.major === disk.major && d.minor === disk.minor);
    assert.equal(beforeDev?.writeBytes ?? 0, 0, 'nothing written yet');

    const w = startWorker('sh', ['-c', `read x; echo started; exec dd if=/dev/zero of='${file}' bs=1M count=${DD_MIB} oflag=direct conv=fsync status=none`]);
    moveInto(dirs, w.pid);
    w.go();
    assert.equal(await w.line(), 'started');
    await w.exited;
    assert.equal(w.child.exitCode, 0, 'dd succeeded');
    assert.equal(fs.statSync(file).size, DD_MIB * MiB);

    const r = read(cg, ['disk']);
    const d = r.stats.disk;
    assert.ok(d, 'disk stats');
    assert.equal(d.source, 'throttle', 'no CFQ/BFQ counters on mq-deadline: the throttle files count');
    const row = d.devices.find((x) => x.major === disk.major && x.minor === disk.minor);
    assert.ok(row, `a row for ${dev} (${disk.why}); rows: ${JSON.stringify(d.devices)}`);
    // The default DeviceNames reads the host's /sys: the kernel name of the disk.
    assert.equal(row.device, path.basename(fs.realpathSync(`/sys/dev/block/${dev}`)));
    assert.ok(row.writeBytes >= DD_MIB * MiB, `writeBytes ${row.writeBytes} ≥ ${DD_MIB * MiB}`);
    assert.ok(row.writeBytes <= 2 * DD_MIB * MiB, `writeBytes ${row.writeBytes} is about what dd wrote`);
    assert.ok(row.writeOps >= 1, `writeOps ${row.writeOps}`);
    assert.ok(row.writeBytes / row.writeOps >= 4096, `bytes per write op ${row.writeBytes / row.writeOps}`);
    // dd reads /dev/zero; the few reads here are exec and filesystem metadata misses.
    assert.ok(row.readBytes < 8 * MiB, `readBytes ${row.readBytes}: dd read /dev/zero, not the disk`);
    // The same numbers as the file's own rows.
    const text = fs.readFileSync(path.join(dirs.blkio, 'blkio.throttle.io_service_bytes_recursive'), 'utf8');
    assert.equal(Number(new RegExp(`^${dev} Write (\\d+)$`, 'm').exec(text)?.[1]), row.writeBytes);

    fs.rmSync(tmp, { recursive: true, force: true });
    fs.writeFileSync(rule, `${dev} 0`);
    assert.doesNotMatch(fs.readFileSync(rule, 'utf8'), new RegExp(`^${dev} `, 'm'), 'throttle rule removed');
  });

  test('pids: sh forking three sleeps → pids.current = 4, then 0 after a kill', async () => {
    const { cg, dirs } = makeCgroup('pids');
    fs.writeFileSync(path.join(dirs.pids, 'pids.max'), '10');
    const w = startWorker('sh', ['-c', 'read x; sleep 30 & sleep 30 & sleep 30 & echo forked; wait']);
    moveInto(dirs, w.pid);
    assert.deepEqual(read(cg, ['pids']).stats.pids, { current: 1, max: 10 }, 'only sh before go');
    w.go();
    assert.equal(await w.line(), 'forked');
    // `echo forked` runs after the three forks: they are all in the cgroup now.
    let r = read(cg, ['pids']);
    for (let i = 0; i < 100 && r.stats.pids?.current !== 4; i++) {
      await delay(20);
      r = read(cg, ['pids']);
    }
    assert.deepEqual(r.stats.pids, { current: 4, max: 10 }, 'sh + 3 sleeps, pids.max 10');
    assert.equal(procsOf(dirs.pids).length, 4, 'cgroup.procs lists 4 processes');

    await killWorker(w);
    let after = read(cg, ['pids']);
    for (let i = 0; i < 100 && after.stats.pids?.current !== 0; i++) {
      await delay(20);
      after = read(cg, ['pids']);
    }
    assert.deepEqual(after.stats.pids, { current: 0, max: 10 });
  });

  test('all default groups on one busy cgroup: every v1 group present, no errors', async () => {
    const { cg, dirs } = makeCgroup('all');
    const w = startWorker(process.execPath, ['-e', ALLOCATOR]);
    assert.equal(await w.line(), 'ready');
    moveInto(dirs, w.pid);
    w.go();
    await w.line();
    const r = read(cg);
    // Filling 64 MiB is mostly page faults (sys); v1 splits user/sys by tick samples, so test the sum.
    assert.ok(r.stats.cpu && (r.stats.cpu.usageUserNs ?? 0) + (r.stats.cpu.usageSysNs ?? 0) > 0, `cpu: ${JSON.stringify(r.stats.cpu)}`);
    assert.ok(r.stats.memory && (r.stats.memory.usage ?? 0) >= ALLOC_BYTES, `memory: ${JSON.stringify(r.stats.memory)}`);
    assert.deepEqual(r.stats.disk, { devices: [] }, 'blkio present, no I/O and no throttle rule → `Total 0` everywhere');
    // pids counts tasks (threads), not processes: node runs several threads.
    const tasks = fs
      .readFileSync(path.join(dirs.pids, 'tasks'), 'utf8')
      .split('\n')
      .filter((l) => l !== '').length;
    assert.ok(tasks > 1, `node has several threads: ${tasks}`);
    assert.deepEqual(r.stats.pids, { current: tasks }, 'pids.current = the tasks file; pids.max `max` is absent');
    assert.equal(r.stats.pressure, undefined, 'no cgroup2 twin was made for this cgroup');
    assert.ok(Math.abs(r.timeMs - Date.now()) < 5000);
    w.child.stdin?.end('exit\n');
    await w.exited;
  });
});
