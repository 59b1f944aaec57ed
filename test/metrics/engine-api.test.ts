// The engine's public seams: mounts read in the constructor, openConsumer(), task lifecycle in snapshots, attachDirs().
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { cgroupMountsFromDirectory } from '../../src/cgroup/mounts.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import type { TaskCgroup } from '../../src/cgroup/types.ts';
import { SELF_CATALOG, SELF_METRICS } from '../../src/metrics/catalog.ts';
import { resolveMounts } from '../../src/metrics/engine-mounts.ts';
import { CgroupMetrics, ConfigError, NoCgroupMountError, type SelfSnapshot } from '../../src/index.ts';
import { V1_TREE, V2 } from './helpers.ts';

test('resolveMounts: explicit mounts win over root; root is read as a directory; an unusable root is NoCgroupMountError', () => {
  const v2 = cgroupMountsFromDirectory(V2.loaded);
  assert.equal(resolveMounts({ mounts: v2, root: '/nonexistent' }), v2);
  assert.equal(resolveMounts({ root: V2.loaded }).mode, 'v2');
  assert.equal(resolveMounts({ root: V1_TREE }).mode, 'v1');
  assert.throws(() => resolveMounts({ root: '/nonexistent/ocm' }), NoCgroupMountError);
});

test('new CgroupMetrics reads its mounts at once: `mounts` is a plain value, an unusable root throws NoCgroupMountError there', () => {
  const cg = new CgroupMetrics({ root: V2.loaded });
  assert.equal(cg.mounts.mode, 'v2');
  assert.equal(cg.mounts, cg.mounts);
  assert.throws(() => new CgroupMetrics({ root: '/nonexistent/ocm' }), NoCgroupMountError);
});

test('openConsumer(): live readings with their task view, finals once per consumer, close() releases the queue', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const a = cg.openConsumer();
  const b = cg.openConsumer();
  cg.add({ id: 'x', namespace: 'ns', cgroup: '/', attributes: { 'job.name': 'j' }, startTime: 1000 });
  const s1 = await a.snapshot();
  assert.deepEqual(
    s1.live.map((l) => [l.task.id, l.task.namespace, l.task.lifecycle, l.task.startTimeMs]),
    [['x', 'ns', 'live', 1000]],
  );
  assert.equal(s1.live[0]?.task.attributes['job.name'], 'j');
  assert.equal(s1.self.tasks, 1);
  const stopped = await cg.stop('x', 'ns');
  assert.equal(stopped.source, 'read');
  const s2 = await a.snapshot();
  assert.deepEqual(
    s2.finals.map((f) => [f.task.id, f.task.lifecycle, f.source]),
    [['x', 'stopped', 'read']],
  );
  assert.deepEqual(s2.live, []);
  assert.equal(s2.self.pending, 0, "a's own pending: it took the reading");
  assert.equal(b.pending, 1, 'b has not taken it');
  assert.equal((await a.snapshot()).finals.length, 0, 'once per consumer');
  b.close();
  b.close();
  assert.equal(b.pending, 0, 'a closed consumer holds nothing');
});

test('remove() ends the task as removed: it leaves the live readings, no final reading', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const c = cg.openConsumer();
  cg.add({ id: 'x', cgroup: '/' });
  const live = (await c.snapshot()).live[0]?.task;
  assert.ok(cg.remove('x'));
  assert.equal(live?.lifecycle, 'removed');
  const s = await c.snapshot();
  assert.deepEqual([s.live.length, s.finals.length, s.self.tasks], [0, 0, 0]);
});

test("attachDirs(): a v1 task added before its cpuacct directory and cgroup2 twin existed reads CPU and pressure once they are given; the caller's TaskCgroup is never written", async () => {
  const mounts = cgroupMountsFromDirectory(V1_TREE);
  const cg = new CgroupMetrics({ mounts, groups: ['cpu', 'memory', 'pressure'] });
  const c = cg.openConsumer();
  const full = resolveCgroup(mounts, '/');
  assert.ok(full.version === 1 && full.dirs.cpuacct && full.dirs.memory);
  const early: TaskCgroup = { version: 1, path: '/', dirs: { memory: full.dirs.memory } };
  cg.add({ id: 't', cgroup: early });
  const before = (await c.snapshot()).live[0]?.result.stats;
  assert.ok(before?.memory, 'memory read from the start');
  assert.deepEqual([before?.cpu, before?.pressure], [undefined, undefined]);
  const later: TaskCgroup = { ...full, unified: V2.loaded };
  assert.equal(cg.attachDirs('nope', 'default', later), false);
  assert.ok(cg.attachDirs('t', 'default', later));
  assert.equal(cg.attachDirs('t', 'default', later), false, 'attached once');
  const after = (await c.snapshot()).live[0]?.result.stats;
  const usage = Number(fs.readFileSync(path.join(full.dirs.cpuacct, 'cpuacct.usage'), 'latin1'));
  assert.equal(after?.version === 1 ? after.cpu?.usageNs : undefined, usage, 'cpuacct.usage from the directory given later');
  assert.ok(after?.pressure?.cpu?.some, 'pressure from the twin');
  assert.deepEqual(early, { version: 1, path: '/', dirs: { memory: full.dirs.memory } });
  const v2 = new CgroupMetrics({ root: V2.loaded });
  v2.add({ id: 'v', cgroup: '/' });
  assert.equal(v2.attachDirs('v', 'default', later), false, 'a v2 cgroup takes nothing');
});

test('SELF_CATALOG: one row per self metric, each reading its value from the SelfSnapshot', () => {
  const self: SelfSnapshot = {
    startTimeMs: 0,
    timeMs: 1,
    tasks: 7,
    collectionDurationS: 0.25,
    errors: new Map([
      ['EACCES', 2],
      ['timeout', 1],
    ]),
    metadataErrors: new Map([['docker\u0000timeout', 6]]),
    exportFailures: new Map([['otlp', 8]]),
    discoveryErrors: new Map([['EMFILE', 9]]),
    pending: 3,
    dropped: 4,
    missed: 5,
    finalSources: { read: 10, young: 11, periodic: 12, none: 13 },
    keptFiles: { open: 14, limit: 15, tasks: 5 },
  };
  const got = SELF_CATALOG.map((d) => {
    const pts: unknown[][] = [];
    d.read(self, (v, a) =>
      pts.push(
        a?.['metadata.source']
          ? [v, a['metadata.source'], a['error.type']]
          : a?.exporter
            ? [v, a.exporter]
            : a?.source
              ? [v, a.source]
              : a?.read_path
                ? [v, a.read_path]
                : [v, a?.['error.type']],
      ),
    );
    return [d.name, pts] as const;
  });
  assert.deepEqual(got, [
    ['cgroup_metrics.tasks', [[7, undefined]]],
    ['cgroup_metrics.collection.duration', [[0.25, undefined]]],
    [
      'cgroup_metrics.read.errors',
      [
        [2, 'EACCES'],
        [1, 'timeout'],
      ],
    ],
    ['cgroup_metrics.final_readings.pending', [[3, undefined]]],
    [
      'cgroup_metrics.final_readings.sources',
      [
        [10, 'read'],
        [11, 'young'],
        [12, 'periodic'],
        [13, 'none'],
      ],
    ],
    ['cgroup_metrics.final_readings.missed', [[5, undefined]]],
    ['cgroup_metrics.final_readings.dropped', [[4, undefined]]],
    ['cgroup_metrics.files.open', [[14, undefined]]],
    ['cgroup_metrics.files.limit', [[15, undefined]]],
    [
      'cgroup_metrics.tasks.read_path',
      [
        [5, 'kept'],
        [2, 'reopen'],
      ],
    ],
    ['cgroup_metrics.metadata.errors', [[6, 'docker', 'timeout']]],
    ['cgroup_metrics.export.failures', [[8, 'otlp']]],
    ['cgroup_metrics.discovery.errors', [[9, 'EMFILE']]],
  ]);
  assert.deepEqual(SELF_CATALOG, Object.values(SELF_METRICS));
});

test('issue 11 (15): add() refuses a bad startTime, cgroup, id or namespace with a ConfigError (never a TypeError, null times or a colliding key)', () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['startTime garbage', { id: 'a', cgroup: '/', startTime: 'garbage' }, /startTime must be a valid Date or ms since the epoch, got "garbage"/],
    ['startTime NaN', { id: 'a', cgroup: '/', startTime: Number.NaN }, /startTime must be a valid Date/],
    ['startTime invalid Date', { id: 'a', cgroup: '/', startTime: new Date('nope') }, /got an invalid Date/],
    ['startTime past Date range', { id: 'a', cgroup: '/', startTime: 1e300 }, /startTime/],
    ['cgroup undefined', { id: 'a', cgroup: undefined }, /cgroup must be a path, \{ pid \} or a TaskCgroup, got undefined/],
    ['cgroup null', { id: 'a', cgroup: null }, /got null/],
    ['cgroup number', { id: 'a', cgroup: 42 }, /got number 42/],
    ['pid not an integer', { id: 'a', cgroup: { pid: 'x' } }, /positive integer pid/],
    ['id with NUL', { id: 'a\u0000b', cgroup: '/' }, /task id "a\\u0000b" holds a NUL character/],
    ['namespace with NUL', { id: 'b', namespace: 'x\u0000a', cgroup: '/' }, /task namespace .* holds a NUL character/],
    ['namespace empty', { id: 'a', namespace: '', cgroup: '/' }, /task namespace must be a non-empty string/],
    ['id a number', { id: 7, cgroup: '/' }, /task id must be a non-empty string, got number 7/],
  ];
  for (const [what, options, re] of bad) {
    assert.throws(
      () => cg.add(options as never),
      (e: unknown) => e instanceof ConfigError && re.test(e.message),
      what,
    );
  }
  assert.equal(cg.size, 0, 'nothing registered');
  // The pairs that NUL could have made collide are distinct tasks.
  cg.add({ id: 'b', namespace: 'x', cgroup: '/', startTime: new Date(1000) });
  cg.add({ id: 'x', namespace: 'b', cgroup: '/', startTime: 2000 });
  assert.equal(cg.size, 2);
});

test('issue 11 (8): a library duration past what a timer holds is a ConfigError', () => {
  assert.throws(
    () => new CgroupMetrics({ root: V2.loaded, collectTimeoutMs: 2 ** 31 }),
    (e: unknown) => e instanceof ConfigError && /collectTimeoutMs/.test(e.message),
  );
  assert.throws(() => new CgroupMetrics({ root: V2.loaded, collectTimeoutMs: Number.NaN }), ConfigError);
});

test('issue 11 (14): a negative or ≥ 2^63 kernel value is a `range` read error, counted, never exported', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-range-'));
  try {
    fs.cpSync(V2.loaded, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'memory.current'), '-5\n');
    const cpuStat = fs.readFileSync(path.join(dir, 'cpu.stat'), 'latin1');
    fs.writeFileSync(
      path.join(dir, 'cpu.stat'),
      cpuStat.replace(/^user_usec \d+$/m, 'user_usec -50').replace(/^system_usec \d+$/m, 'system_usec 100000000000000000000000'),
    );
    const cg = new CgroupMetrics({ root: dir, groups: ['cpu', 'memory'] });
    cg.add({ id: 'r', cgroup: '/' });
    const consumer = cg.openConsumer();
    const snap = await consumer.snapshot(5_000);
    consumer.close();
    const reading = snap.live[0]?.result;
    assert.ok(reading);
    assert.equal(reading.stats.version, 2);
    const memory = reading.stats.version === 2 ? reading.stats.memory : undefined;
    assert.ok(memory?.peak !== undefined, 'the other memory values are read');
    assert.equal(memory.current, undefined, 'the negative memory.current is not exported');
    assert.equal(reading.stats.cpu?.userUsec, undefined, 'the negative user_usec is not exported');
    assert.equal(reading.stats.cpu?.systemUsec, undefined, 'the 1e23 system_usec is not exported');
    assert.ok(reading.stats.cpu?.usageUsec !== undefined, 'the other cpu.stat values are');
    const range = reading.errors.filter((e) => e.type === 'range');
    assert.deepEqual(range.map((e) => path.basename(e.path)).sort(), ['cpu.stat', 'memory.current']);
    assert.match(range.find((e) => e.path.endsWith('memory.current'))?.message ?? '', /"-5" is out of range \(0 to 2\^63\)/);
    assert.equal(snap.self.errors.get('range'), 2, 'counted in cgroup_metrics.read.errors{error.type=range}');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('engine options: maxOpenFiles and stuckReadMs are checked; a copied tree keeps no files, whatever its size', async () => {
  assert.throws(
    () => new CgroupMetrics({ root: V2.loaded, maxOpenFiles: -1 }),
    (e: unknown) => e instanceof ConfigError && /maxOpenFiles must be a non-negative integer, got -1/.test(e.message),
  );
  assert.throws(() => new CgroupMetrics({ root: V2.loaded, maxOpenFiles: 1.5 }), ConfigError);
  assert.throws(() => new CgroupMetrics({ root: V2.loaded, readThread: true, stuckReadMs: 0 }), /stuckReadMs/);
  const cg = new CgroupMetrics({ root: V2.loaded });
  cg.add({ id: 't', cgroup: '/' });
  const s = await cg.openConsumer().snapshot();
  assert.deepEqual(s.self.keptFiles, { open: 0, limit: 0, tasks: 0 }, 'not a cgroup file system: open/read/close');
});
