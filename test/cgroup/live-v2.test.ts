/**
 * readStats on a LIVE cgroup2 directory (the hybrid host's /sys/fs/cgroup/unified, which has
 * cpu.stat, cgroup.events and the *.pressure files but no memory, io or pids controller):
 *
 *   - a CPU burner in the cgroup → cpu.stat usage_usec / user_usec grow by about the burn,
 *     the three pressure files parse (some and full, avg within 0–100, totals ≥ 0)
 *   - cgroup.events goes from `populated 1` to `populated 0` when the process exits, and a
 *     readStats after that still returns the final CPU values (≥ those read before the exit):
 *     the window in which the agent takes a task's final reading.
 *
 * Needs root and a cgroup2 mount: without them every test fails with a message saying so
 * (never skips). The child is killed and the cgroup removed whatever happens.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { hostCgroupMounts } from '../../src/cgroup/mounts.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { DEFAULT_GROUPS, type PsiStats, type ReadResult, type TaskCgroup, type V2Stats } from '../../src/cgroup/types.ts';

const NAME = `ocm-live-${randomBytes(6).toString('hex')}`;
const BURN_MS = 500;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** `ready`, wait for a line, burn BURN_MS of CPU, print its CPU time, wait for stdin to close. */
const BURNER = `
  const rl = require('node:readline').createInterface({ input: process.stdin });
  const lines = rl[Symbol.asyncIterator]();
  console.log('ready');
  (async () => {
    await lines.next();
    const c0 = process.cpuUsage();
    let x = 0;
    for (;;) {
      for (let i = 0; i < 1e5; i++) x = (x * 1103515245 + 12345) | 0;
      const c = process.cpuUsage(c0);
      if ((c.user + c.system) / 1000 >= ${BURN_MS}) break;
    }
    const c = process.cpuUsage(c0);
    console.log(JSON.stringify({ userMs: c.user / 1000, systemMs: c.system / 1000, x }));
    await lines.next();
    process.exit(0);
  })();
`;

function events(dir: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8').split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

function assertPsi(p: PsiStats | undefined, what: string): void {
  assert.ok(p, `${what}: parsed`);
  for (const kind of ['some', 'full'] as const) {
    const l = p[kind];
    assert.ok(l, `${what}: a ${kind} line (kernel ≥ 5.13 has full for cpu in non-root cgroups)`);
    for (const a of [l.avg10, l.avg60, l.avg300]) assert.ok(a >= 0 && a <= 100, `${what} ${kind} avg ${a} in [0, 100]`);
    assert.ok(Number.isInteger(l.totalUs) && l.totalUs >= 0, `${what} ${kind} total ${l.totalUs}`);
  }
}

describe('readStats on a live cgroup2 directory', { timeout: 60_000 }, () => {
  let dir: string | undefined;
  let root: string | undefined;
  let setupError: Error | undefined;
  let child: ChildProcess | undefined;
  let childExit: Promise<void> | undefined;

  function real(): { dir: string; cg: Extract<TaskCgroup, { version: 2 }> } {
    if (setupError) throw setupError;
    assert.ok(dir, 'setup did not run');
    return { dir, cg: { version: 2, path: `/${NAME}`, dir } };
  }

  function read(cg: TaskCgroup): ReadResult & { stats: V2Stats } {
    const r = readStats(cg, new Set(DEFAULT_GROUPS), newReadState());
    assert.deepEqual(r.errors, [], 'no read errors (absent memory/io/pids files are not errors)');
    assert.equal(r.gone, false);
    assert.equal(r.stats.version, 2);
    return r as ReadResult & { stats: V2Stats };
  }

  before(() => {
    try {
      assert.equal(process.getuid?.(), 0, `live-v2.test.ts needs root to create cgroups and move processes (uid ${process.getuid?.()})`);
      const m = hostCgroupMounts();
      assert.ok(m.v2, `live-v2.test.ts needs a cgroup2 mount; /proc/self/mountinfo has none (mode ${m.mode})`);
      root = m.v2.mountPoint;
      const d = path.join(root, NAME);
      fs.mkdirSync(d);
      dir = d;
    } catch (err) {
      setupError = err instanceof Error ? err : new Error(String(err));
    }
  });

  after(async () => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    child?.stdin?.destroy();
    await Promise.race([childExit, delay(5000)]);
    if (!dir || !root) return;
    let last = '';
    for (let i = 0; i < 100 && fs.existsSync(dir); i++) {
      // Leftover processes go back to the root first (cgroup.kill would also do).
      for (const pid of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          fs.writeFileSync(path.join(root, 'cgroup.procs'), pid);
        } catch {
          /* exited */
        }
      }
      try {
        fs.rmdirSync(dir);
      } catch (err) {
        last = (err as NodeJS.ErrnoException).code ?? String(err);
        sleepMs(20);
      }
    }
    assert.equal(fs.existsSync(dir), false, `${dir} removed (${last})`);
  });

  test('resolveCgroup on the cgroup2 mount alone gives the TaskCgroup the tests read', () => {
    const { dir: d, cg } = real();
    const m = hostCgroupMounts();
    assert.ok(m.v2);
    // The mount taken as a v2 host (what `--root /sys/fs/cgroup/unified` gives).
    assert.deepEqual(resolveCgroup({ mode: 'v2', v1: new Map(), v2: m.v2 }, `/${NAME}`), cg);
    assert.equal(cg.dir, d);
  });

  test(`a ${BURN_MS} ms burner: cpu.stat grows, pressure parses, populated 1 → 0, final reading after exit`, async () => {
    const { dir: d, cg } = real();
    assert.equal(events(d).get('populated'), 0, 'an empty new cgroup is not populated');
    const empty = read(cg).stats;
    assert.deepEqual(empty.cpu, { usageUsec: 0, userUsec: 0, systemUsec: 0 }, 'a fresh cgroup: zero CPU, no cpu.max without the cpu controller');
    assert.equal(empty.memory, undefined, 'no memory controller on this cgroup2 mount');
    assert.equal(empty.disk, undefined);
    assert.equal(empty.pids, undefined);
    assertPsi(empty.pressure?.cpu, 'cpu.pressure');
    assertPsi(empty.pressure?.memory, 'memory.pressure');
    assertPsi(empty.pressure?.io, 'io.pressure');

    const c = spawn(process.execPath, ['-e', BURNER], { stdio: ['pipe', 'pipe', 'inherit'] });
    child = c;
    childExit = new Promise((resolve) => c.once('exit', () => resolve()));
    const out = c.stdout;
    assert.ok(out && c.pid !== undefined);
    const lines = createInterface({ input: out })[Symbol.asyncIterator]();
    assert.equal((await lines.next()).value, 'ready');
    fs.writeFileSync(path.join(d, 'cgroup.procs'), String(c.pid));
    assert.match(fs.readFileSync(`/proc/${c.pid}/cgroup`, 'utf8'), new RegExp(`^0::/${NAME}$`, 'm'));
    assert.equal(events(d).get('populated'), 1, 'populated 1 with the child inside');

    const before = read(cg).stats.cpu;
    assert.ok(before, 'cpu');
    c.stdin?.write('go\n');
    const done = JSON.parse(String((await lines.next()).value)) as { userMs: number; systemMs: number };
    assert.ok(done.userMs + done.systemMs >= BURN_MS);

    const live = read(cg).stats;
    const cpu = live.cpu;
    assert.ok(cpu?.usageUsec !== undefined && cpu.userUsec !== undefined && cpu.systemUsec !== undefined, JSON.stringify(cpu));
    assert.ok(
      cpu.usageUsec - (before.usageUsec ?? 0) >= 0.8 * BURN_MS * 1000,
      `usage_usec grew by ${cpu.usageUsec - (before.usageUsec ?? 0)} ≥ 0.8 × ${BURN_MS} ms`,
    );
    assert.ok(
      cpu.userUsec - (before.userUsec ?? 0) >= 0.5 * BURN_MS * 1000,
      `user_usec grew by ${cpu.userUsec - (before.userUsec ?? 0)} (a busy loop is user time)`,
    );
    assert.ok(cpu.usageUsec <= (done.userMs + done.systemMs) * 1000 * 1.25 + 300_000, `usage_usec ${cpu.usageUsec} is µs, about the child's own CPU time`);
    assert.equal(events(d).get('populated'), 1, 'still populated while the child waits');
    assertPsi(live.pressure?.cpu, 'cpu.pressure');
    assertPsi(live.pressure?.memory, 'memory.pressure');
    assertPsi(live.pressure?.io, 'io.pressure');
    // The parsed totals are the file's (read just after, so ≥).
    const cpuPsiFile = fs.readFileSync(path.join(d, 'cpu.pressure'), 'utf8');
    const fileTotal = Number(/^some .* total=(\d+)$/m.exec(cpuPsiFile)?.[1]);
    assert.ok(fileTotal >= (live.pressure?.cpu?.some?.totalUs ?? Infinity), `cpu.pressure some total ${fileTotal} ≥ parsed`);

    // Exit: populated flips to 0 (the kernel updates cgroup.events when the last task is released).
    c.stdin?.end('exit\n');
    await childExit;
    assert.equal(c.exitCode, 0);
    let populated = events(d).get('populated');
    for (let i = 0; i < 100 && populated !== 0; i++) {
      await delay(10);
      populated = events(d).get('populated');
    }
    assert.equal(populated, 0, 'populated 0 after the exit');
    assert.equal(fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8'), '', 'cgroup.procs empty');

    // The final reading: the directory is still there until removed, with the final counters.
    const final = read(cg).stats;
    assert.ok(final.cpu, 'cpu after exit');
    assert.ok((final.cpu.usageUsec ?? -1) >= cpu.usageUsec, `final usage_usec ${final.cpu.usageUsec} ≥ ${cpu.usageUsec}`);
    assert.ok((final.cpu.userUsec ?? -1) >= cpu.userUsec, `final user_usec ${final.cpu.userUsec} ≥ ${cpu.userUsec}`);
    assert.ok((final.cpu.systemUsec ?? -1) >= cpu.systemUsec, `final system_usec ${final.cpu.systemUsec} ≥ ${cpu.systemUsec}`);
    // Nothing runs any more: two reads after the exit agree.
    await delay(50);
    assert.deepEqual(read(cg).stats.cpu, final.cpu, 'counters frozen after the exit');
    assertPsi(final.pressure?.cpu, 'cpu.pressure after exit');

    // After rmdir the same read reports the cgroup gone, with no stats and no throw.
    fs.rmdirSync(d);
    const gone = readStats(cg, new Set(DEFAULT_GROUPS), newReadState());
    assert.equal(gone.gone, true);
    assert.deepEqual(
      gone.errors.map((e) => [e.type, e.path]),
      [['ENOENT', d]],
    );
    assert.equal(gone.stats.cpu, undefined);
  });
});
