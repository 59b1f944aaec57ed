/**
 * Kept-open cgroup files on real cgroup v1 hierarchies (root only; fails, never skips, without
 * them): each task's files are opened at its first read and read positionally afterwards, the
 * content is current at each read, a cgroup removed and made again under the same path is never
 * read through the old files, the files close at the final reading, at remove() and when the
 * engine is dropped, and tasks beyond the file budget (an option, or RLIMIT_NOFILE lowered with
 * prlimit) are read by open/read/close with the same values.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { FileReader, nativeReads } from '../../src/cgroup/file-reader.ts';
import { budgetFromLimit } from '../../src/cgroup/kept-files.ts';
import { hostCgroupMounts } from '../../src/cgroup/mounts.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { nativeAddon } from '../../src/native-addon.ts';
import { parseOpenFilesLimit } from '../../src/cgroup/parse/proc.ts';
import { CgroupMetrics, type Snapshot } from '../../src/index.ts';
import { randomName, requireV1, V1_MOUNT } from '../metrics/helpers.ts';

const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids'] as const;
const GROUPS = ['cpu', 'memory', 'pids'] as const;
const parent = randomName('ocm-kept');
const made: string[] = [];

/** A cgroup `/<parent>/<name>` in every hierarchy of CONTROLLERS; removed after the file's tests. */
function mkCgroup(name: string): string {
  requireV1(CONTROLLERS);
  for (const c of CONTROLLERS) {
    fs.mkdirSync(path.join(V1_MOUNT, c, parent), { recursive: true });
    fs.mkdirSync(path.join(V1_MOUNT, c, parent, name));
  }
  made.push(name);
  return `/${parent}/${name}`;
}

function rmCgroup(name: string): void {
  for (const c of CONTROLLERS) fs.rmdirSync(path.join(V1_MOUNT, c, parent, name));
}

function setLimit(name: string, bytes: number): void {
  fs.writeFileSync(path.join(V1_MOUNT, 'memory', parent, name, 'memory.limit_in_bytes'), String(bytes));
}

after(() => {
  const dirs = [...made.reverse().map((name) => `${parent}/${name}`), parent];
  for (const d of dirs) {
    for (const c of CONTROLLERS) {
      try {
        fs.rmdirSync(path.join(V1_MOUNT, c, d));
      } catch {
        // already gone
      }
    }
  }
});

/** Open file descriptors of this process that point into the test's cgroups. */
function fdsInto(dirPart: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).includes(dirPart)) n++;
    } catch {
      // closed meanwhile (readdir's own fd)
    }
  }
  return n;
}

function limitOf(s: Snapshot, id: string): number | undefined {
  const r = s.live.find((l) => l.task.id === id)?.result.stats;
  return r?.version === 1 ? r.memory?.limit : undefined;
}

test('one open per file for the life of a task; every read sees the current value (positional reads of the kept file)', async () => {
  const p = mkCgroup('fresh');
  const cg = new CgroupMetrics({ groups: [...GROUPS] });
  const c = cg.openConsumer();
  cg.add({ id: 'fresh', cgroup: p });
  setLimit('fresh', 64 << 20);
  let s = await c.snapshot();
  assert.equal(limitOf(s, 'fresh'), 64 << 20);
  const kept = fdsInto(`/${parent}/fresh`);
  assert.ok(kept >= 8, `the task's files are kept open: ${kept}`);
  assert.equal(s.self.keptFiles.tasks >= 1, true);
  for (const mb of [32, 48, 16]) {
    setLimit('fresh', mb << 20);
    s = await c.snapshot();
    assert.equal(limitOf(s, 'fresh'), mb << 20, 'the kept file reads the value written since');
    assert.equal(fdsInto(`/${parent}/fresh`), kept, 'no file opened again');
  }
  await cg.stop('fresh');
  assert.equal(fdsInto(`/${parent}/fresh`), 0, 'closed at the final reading');
  c.close();
});

test('a cgroup removed and made again under the same path is never read through the old files: the task ends with its last reading', async () => {
  const p = mkCgroup('again');
  const cg = new CgroupMetrics({ groups: [...GROUPS], onGone: 'stop' });
  const c = cg.openConsumer();
  cg.add({ id: 'again', cgroup: p });
  setLimit('again', 40 << 20);
  assert.equal(limitOf(await c.snapshot(), 'again'), 40 << 20);
  // Between two collections: gone and back under the same path, with a value of its own.
  rmCgroup('again');
  for (const ctrl of CONTROLLERS) fs.mkdirSync(path.join(V1_MOUNT, ctrl, parent, 'again'));
  setLimit('again', 24 << 20);
  const s = await c.snapshot();
  assert.equal(limitOf(s, 'again'), undefined, 'the new cgroup is not this task');
  assert.equal(s.self.errors.get('ENOENT'), 1, 'the old cgroup is seen gone (ENODEV through its kept files)');
  assert.equal(cg.has('again'), false, 'onGone stop ended it');
  const last = s.finals.find((f) => f.task.id === 'again'); // queued during the read: delivered by the same collection
  assert.equal(last?.stats.version === 1 ? last.stats.memory?.limit : undefined, 40 << 20, 'its final reading is its last one, not the new cgroup');
  assert.equal(fdsInto(`/${parent}/again`), 0, 'the dying cgroup is not held open');
  c.close();
});

test('remove() closes the files at once; so does dropping the engine (garbage collected)', async () => {
  const p = mkCgroup('dropped');
  const cg = new CgroupMetrics({ groups: [...GROUPS] });
  const c = cg.openConsumer();
  cg.add({ id: 'r', cgroup: p });
  await c.snapshot();
  assert.ok(fdsInto(`/${parent}/dropped`) > 0);
  assert.ok(cg.remove('r'));
  assert.equal(fdsInto(`/${parent}/dropped`), 0, 'remove() closed them');
  c.close();

  await (async () => {
    const lost = new CgroupMetrics({ groups: [...GROUPS] });
    lost.add({ id: 'never-stopped', cgroup: p });
    await lost.openConsumer().snapshot();
  })();
  assert.ok(fdsInto(`/${parent}/dropped`) > 0, 'kept while the engine lives');
  const gc = (globalThis as { gc?: () => void }).gc;
  assert.ok(gc, 'run with --expose-gc (npm test does)');
  for (let i = 0; i < 50 && fdsInto(`/${parent}/dropped`) > 0; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(fdsInto(`/${parent}/dropped`), 0, "a dropped engine's files are closed when it is collected");
});

test('a budget of 30 files: one task keeps its files, the others are read by open/read/close, every value exact', async () => {
  const names = ['b0', 'b1', 'b2', 'b3'];
  const cg = new CgroupMetrics({ groups: [...GROUPS], maxOpenFiles: 30 });
  const c = cg.openConsumer();
  names.forEach((n, i) => {
    cg.add({ id: n, cgroup: mkCgroup(n) });
    setLimit(n, (i + 1) << 20);
  });
  for (let round = 0; round < 2; round++) {
    const s = await c.snapshot();
    for (const [i, n] of names.entries()) assert.equal(limitOf(s, n), (i + 1) << 20, `${n} read exactly`);
    assert.deepEqual([s.self.keptFiles.tasks, s.self.keptFiles.limit], [1, 30]);
    assert.ok(s.self.keptFiles.open > 0 && s.self.keptFiles.open <= 30, `open ${s.self.keptFiles.open}`);
    assert.deepEqual(s.self.errors, new Map(), 'no errors on either path');
  }
  const open = names.map((n) => fdsInto(`/${parent}/${n}/`));
  assert.equal(open.filter((k) => k > 0).length, 1, `files kept for one task only: ${open}`);
  await cg.stopAll();
  assert.equal(
    names.reduce((a, n) => a + fdsInto(`/${parent}/${n}/`), 0),
    0,
  );
  c.close();
});

test('RLIMIT_NOFILE lowered to 400 with prlimit: the budget is 144 files, tasks beyond it fall back, all 20 read exactly, no EMFILE', async () => {
  const names = Array.from({ length: 20 }, (_, i) => `n${i}`);
  for (const [i, n] of names.entries()) {
    mkCgroup(n);
    setLimit(n, (i + 1) << 20);
  }
  const script = `
    import { CgroupMetrics } from ${JSON.stringify(path.resolve('src/index.ts'))};
    const cg = new CgroupMetrics({ groups: ['cpu', 'memory', 'pids'] });
    const c = cg.openConsumer();
    for (const n of ${JSON.stringify(names)}) cg.add({ id: n, cgroup: '/${parent}/' + n });
    let s;
    for (let i = 0; i < 3; i++) s = await c.snapshot();
    const limits = Object.fromEntries(s.live.map((l) => [l.task.id, l.result.stats.memory?.limit]));
    console.log(JSON.stringify({ limits, kept: s.self.keptFiles, errors: [...s.self.errors] }));
  `;
  const { stdout } = await promisify(execFile)('prlimit', ['--nofile=400:400', process.execPath, '--import', 'tsx', '--input-type=module', '-e', script]);
  const got = JSON.parse(stdout) as { limits: Record<string, number>; kept: { open: number; limit: number; tasks: number }; errors: unknown[] };
  assert.equal(got.kept.limit, 144, 'RLIMIT_NOFILE 400 less 256 of headroom');
  assert.ok(got.kept.tasks >= 1 && got.kept.tasks < 20, `tasks keeping files: ${got.kept.tasks} of 20 (a task is admitted while 24 more files fit)`);
  assert.ok(got.kept.open <= 144);
  assert.deepEqual(got.errors, []);
  assert.deepEqual(got.limits, Object.fromEntries(names.map((n, i) => [n, (i + 1) << 20])));
});

test('2,000 tasks come and go: the kept files return to the baseline', async () => {
  const cg = new CgroupMetrics({ groups: [...GROUPS] });
  const c = cg.openConsumer();
  const base = fdsInto(`/${parent}/`);
  for (let wave = 0; wave < 4; wave++) {
    const ids = Array.from({ length: 500 }, (_, i) => `w${wave}-${i}`);
    for (const id of ids) cg.add({ id, cgroup: mkCgroup(id) });
    const s = await c.snapshot();
    assert.equal(s.live.length, 500);
    assert.ok(fdsInto(`/${parent}/w${wave}-`) >= 500 * 8, 'kept while live');
    await Promise.all(ids.map((id) => cg.stop(id)));
    for (const id of ids) rmCgroup(id);
    made.splice(made.length - ids.length, ids.length);
  }
  assert.equal(fdsInto(`/${parent}/`), base, 'no file left open');
  assert.equal((await c.snapshot()).self.keptFiles.tasks >= 0, true);
  c.close();
});

test('parseOpenFilesLimit: the soft limit of a real /proc/self/limits; never throws; round-trips', () => {
  const real = fs.readFileSync('/proc/self/limits', 'latin1');
  const line = real.split('\n').find((l) => l.startsWith('Max open files')) as string;
  assert.equal(parseOpenFilesLimit(real), Number(line.split(/\s+/)[3]));
  assert.equal(parseOpenFilesLimit('Max open files            unlimited            unlimited            files\n'), Infinity);
  assert.equal(parseOpenFilesLimit('Max processes 10 10 processes\n'), undefined);
  assert.equal(parseOpenFilesLimit('Max open files            -5            9            files\n'), undefined);
  fc.assert(fc.property(fc.string(), (s) => parseOpenFilesLimit(s) === undefined || typeof parseOpenFilesLimit(s) === 'number'));
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 2 ** 40 }), (soft, hard) => {
      return parseOpenFilesLimit(`Limit Soft Limit Hard Limit Units\nMax open files            ${soft}                ${hard}                files\n`) === soft;
    }),
  );
  assert.deepEqual([budgetFromLimit(400), budgetFromLimit(1024), budgetFromLimit(1 << 20), budgetFromLimit(100)], [144, 768, 786432, 0]);
});

test('kept files are read ahead by the native addon (CI must not fall back), with the values a plain read gives', async () => {
  assert.equal(
    nativeReads,
    true,
    `the addon's batched reads are not in use: ${nativeAddon().why} (OCM_NO_NATIVE_READS=${process.env.OCM_NO_NATIVE_READS ?? ''})`,
  );
  const ids = Array.from({ length: 9 }, (_, i) => `ahead${i}`);
  const cg = new CgroupMetrics({ groups: [...GROUPS] });
  const c = cg.openConsumer();
  ids.forEach((id, i) => {
    cg.add({ id, cgroup: mkCgroup(id) });
    setLimit(id, (i + 1) << 20);
  });
  await c.snapshot(); // the first reading opens and keeps the files
  const s = await c.snapshot(); // this one reads them ahead, eight tasks a batch
  // No process in them: nothing moves between this cycle and the plain reads below.
  class Plain extends FileReader {
    override readFd(fd: number, file: string, positional = true): string {
      return super.readFd(fd, file, positional);
    }
  }
  for (const [i, id] of ids.entries()) {
    const live = s.live.find((l) => l.task.id === id);
    assert.ok(live, `${id} read`);
    assert.equal(limitOf(s, id), (i + 1) << 20);
    const plain = readStats(resolveCgroup(hostCgroupMounts(), `/${parent}/${id}`), new Set(GROUPS), newReadState(), { reader: new Plain() });
    assert.deepEqual(live.result.stats, plain.stats, `${id}: read ahead natively = read plainly`);
  }
  for (const id of ids) cg.remove(id);
  c.close();
});
