// The engine's building blocks, each alone: values, not "did not throw".
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { test } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { CgroupStats, TaskCgroup } from '../../src/cgroup/types.ts';
import { AlreadyCollectedError } from '../../src/errors.ts';
import { ErrorCounts } from '../../src/metrics/error-counts.ts';
import { Fifo } from '../../src/metrics/fifo.ts';
import { FinalQueue } from '../../src/metrics/final-queue.ts';
import { FinalReadings } from '../../src/metrics/final-readings.ts';
import { SharedCycle } from '../../src/metrics/shared-cycle.ts';
import { SlicedDrain } from '../../src/metrics/sliced-drain.ts';
import { TaskRegistry } from '../../src/metrics/task-registry.ts';
import { Task } from '../../src/metrics/task.ts';
import { VanishedCgroupPolicy } from '../../src/metrics/vanished-policy.ts';

const CGROUP: TaskCgroup = { version: 2, path: '/t', dir: '/nonexistent/t' };
const STATS = { version: 2 } as CgroupStats;
const task = (id: string, namespace = 'default'): Task => new Task(id, namespace, CGROUP, 0, undefined);

test('Fifo: first in, first out, across compaction; taken slots are cleared', () => {
  const q = new Fifo<{ n: number }>();
  assert.equal(q.shift(), undefined);
  for (let n = 0; n < 5000; n++) q.push({ n });
  assert.equal(q.length, 5000);
  for (let n = 0; n < 3000; n++) assert.equal(q.shift()?.n, n); // compacts past 1024 taken and half
  assert.equal(q.length, 2000);
  assert.equal(q.at(0)?.n, 3000);
  assert.equal(q.at(1999)?.n, 4999);
  assert.equal(q.at(2000), undefined);
  assert.equal(q.at(-1), undefined);
  q.push({ n: 5000 });
  const rest: number[] = [];
  for (let x = q.shift(); x; x = q.shift()) rest.push(x.n);
  assert.deepEqual(
    rest,
    Array.from({ length: 2001 }, (_, i) => 3000 + i),
  );
  assert.equal(q.length, 0);
  q.push({ n: 7 });
  assert.equal(q.at(0)?.n, 7, 'usable again once emptied');
});

test('FinalQueue: each consumer takes each entry once; the oldest are dropped beyond capacity', () => {
  const q = new FinalQueue<string>(3);
  const a = q.register();
  const b = q.register();
  for (const s of ['1', '2', '3', '4']) q.push(s);
  assert.equal(q.dropped, 1);
  const takeAll = (c: typeof a): string[] => {
    const got: string[] = [];
    q.advance(
      c,
      q.peek(c, (s) => {
        got.push(s);
        return true;
      }),
    );
    return got;
  };
  assert.deepEqual(takeAll(a), ['2', '3', '4']);
  assert.equal(q.size, 3, 'b has not taken them');
  assert.deepEqual(takeAll(b), ['2', '3', '4']);
  assert.equal(q.size, 0);
  assert.deepEqual(takeAll(a), []);
  q.push('5');
  q.unregister(b);
  assert.deepEqual(takeAll(a), ['5']);
  assert.equal(q.size, 0);
});

test('FinalReadings: read, last-known and none; one reading per (namespace, id) per take', () => {
  const f = new FinalReadings(10);
  const c = f.open();
  const a1 = task('a');
  const a2 = task('a');
  const b = task('b');
  assert.deepEqual(f.queueLastKnown(b), { source: 'none' });
  b.remember(STATS, 42, 'young');
  assert.deepEqual(f.queueLastKnown(b), { source: 'last-known', lastKnown: 'young', timeMs: 42, stats: STATS });
  assert.deepEqual(f.queueRead(a1, STATS, 1), { source: 'read', timeMs: 1, stats: STATS });
  f.queueRead(a2, STATS, 2);
  assert.equal(f.missed, 2);
  assert.equal(f.pending, 3);
  const first = f.take(c);
  assert.deepEqual(
    first.map((r) => [r.task.id, r.source, r.timeMs]),
    [
      ['b', 'last-known', 42],
      ['a', 'read', 1],
    ],
    'the second incarnation of a waits',
  );
  assert.deepEqual(
    f.take(c).map((r) => r.task.incarnation),
    [a2.incarnation],
  );
  assert.equal(f.pending, 0);
  assert.equal(f.dropped, 0);
  const c2 = task('c');
  c2.remember(STATS, 43, 'young');
  c2.remember(STATS, 41, 'periodic');
  assert.equal(c2.lastSource, 'young', 'an older reading does not replace a fresher one');
  c2.remember(STATS, 44, 'periodic');
  assert.deepEqual(f.queueLastKnown(c2), { source: 'last-known', lastKnown: 'periodic', timeMs: 44, stats: STATS });
  assert.equal(f.missed, 3);
  assert.deepEqual(f.sourceCounts, { read: 2, young: 1, periodic: 1, none: 1 }, 'every stop counted once, by source');
});

test('SharedCycle: overlapping reads share one run; a joiner with an earlier deadline gets undefined at it', async (t) => {
  let runs = 0;
  let release: (v: string) => void = () => {};
  const cycle = new SharedCycle<string>((deadline) => {
    runs++;
    return new Promise((resolve) => {
      release = resolve;
      void deadline;
    });
  });
  const keepAlive = setInterval(() => {}, 1000); // SharedCycle's timers are unref'd
  t.after(() => clearInterval(keepAlive));
  const now = performance.now();
  const first = cycle.read(now + 60_000);
  const second = cycle.read(now + 60_000);
  const early = cycle.read(now + 20);
  assert.equal(runs, 1);
  assert.equal(await early, undefined, 'the joiner stops waiting at its own deadline');
  release('r1');
  assert.equal(await first, 'r1');
  assert.equal(await second, 'r1');
  const third = cycle.read(performance.now() + 60_000);
  assert.equal(runs, 2, 'a read after the run ended starts another');
  release('r2');
  assert.equal(await third, 'r2');
});

test('SharedCycle: a run started with this deadline is awaited without a timer, even past the deadline', async () => {
  const cycle = new SharedCycle<string>(async () => {
    await new Promise((r) => setTimeout(r, 30));
    return 'late but whole';
  });
  assert.equal(await cycle.read(performance.now() + 1), 'late but whole');
});

test("SlicedDrain: runs in order; the first item in the caller's stack, the rest of a burst after a turn of the loop, in slices", async () => {
  const ran: number[] = [];
  const drain = new SlicedDrain<number>(2, (n) => {
    const t = performance.now();
    while (performance.now() - t < 0.5); // 0.5 ms of work: 4 or so per 2 ms slice
    ran.push(n);
  });
  for (let n = 0; n < 20; n++) drain.push(n);
  assert.deepEqual(ran, [0], 'only the first ran synchronously');
  assert.equal(drain.pending, 19);
  let turns = 0;
  while (drain.pending > 0 && turns < 100) {
    await yieldToLoop();
    turns++;
  }
  assert.deepEqual(
    ran,
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.ok(turns >= 4, `19 items of 0.5 ms in 2 ms slices took ${turns} turns of the event loop`);
  await yieldToLoop();
  await yieldToLoop();
  drain.push(20);
  assert.deepEqual(ran.at(-1), 20, 'an idle drain runs a new item at once');
});

test('TaskRegistry and Task: a task is live exactly while registered; it ends once', () => {
  const r = new TaskRegistry();
  const a = r.add('ns', 'a', () => task('a', 'ns'));
  assert.equal(r.size, 1);
  assert.ok(r.has('ns', 'a'));
  assert.ok(!r.has('other', 'a'));
  let created = 0;
  assert.throws(
    () =>
      r.add('ns', 'a', () => {
        created++;
        return task('a', 'ns');
      }),
    AlreadyCollectedError,
  );
  assert.equal(created, 0, 'the duplicate is refused before its task is made');
  assert.equal(a.lifecycle, 'live');
  assert.equal(r.end('ns', 'a', 'stopped'), a);
  assert.equal(a.lifecycle, 'stopped');
  assert.equal(r.size, 0);
  assert.equal(r.end('ns', 'a', 'removed'), undefined);
  assert.equal(a.end('removed'), false, 'a task leaves live once');
  assert.equal(a.lifecycle, 'stopped');

  const b1 = r.add('ns', 'b', () => task('b', 'ns'));
  assert.ok(r.endTask(b1, 'removed'));
  const b2 = r.add('ns', 'b', () => task('b', 'ns'));
  assert.equal(r.endTask(b1, 'stopped'), false, 'an old incarnation does not end the new one');
  assert.equal(b2.lifecycle, 'live');
  assert.deepEqual(r.list(), [b2]);
  assert.equal(b1.lifecycle, 'removed');
});

test('Task: owns a copy of its cgroup; directories made later (a hierarchy, the cgroup2 twin) join only where missing', () => {
  const v1: TaskCgroup = { version: 1, path: '/t', dirs: { cpu: '/x/cpu/t' } };
  const t = new Task('t', 'default', v1, 0, { 'job.name': 'j', 'container.id': 'spoof' });
  assert.deepEqual(t.attributes, { 'job.name': 'j', 'container.id': 't', 'container.namespace': 'default' });
  const later: TaskCgroup = { version: 1, path: '/t', dirs: { cpu: '/other/cpu/t', cpuacct: '/x/cpuacct/t' }, unified: '/x/unified/t' };
  assert.ok(t.attachDirs(later));
  assert.deepEqual(t.cgroup, { version: 1, path: '/t', dirs: { cpu: '/x/cpu/t', cpuacct: '/x/cpuacct/t' }, unified: '/x/unified/t' }, 'only what was missing');
  assert.deepEqual(v1, { version: 1, path: '/t', dirs: { cpu: '/x/cpu/t' } }, "the caller's object is untouched");
  assert.equal(t.attachDirs({ version: 1, path: '/t', dirs: { cpu: '/y' }, unified: '/y' }), false, 'nothing replaced');
  assert.equal(task('v2').attachDirs(later), false);
});

test('VanishedCgroupPolicy: counted once per disappearance; `stop` stops every time it is seen gone', () => {
  const counted: string[] = [];
  const stopped: string[] = [];
  const actions = { countError: (type: string) => counted.push(type), stop: (t: Task) => stopped.push(t.id) };
  const report = new VanishedCgroupPolicy('report', actions);
  const t = task('t');
  report.observe(t, true);
  report.observe(t, true);
  assert.deepEqual(counted, ['ENOENT']);
  report.observe(t, false);
  report.observe(t, true);
  assert.deepEqual(counted, ['ENOENT', 'ENOENT'], 'back, then gone again: counted again');
  assert.deepEqual(stopped, []);
  const stop = new VanishedCgroupPolicy('stop', actions);
  stop.observe(task('u'), false);
  stop.observe(task('v'), true);
  assert.deepEqual(stopped, ['v']);
  assert.equal(counted.length, 3);
});

test('ErrorCounts: sums by type; a snapshot does not change afterwards', () => {
  const e = new ErrorCounts();
  e.add('EACCES');
  e.add('timeout', 3);
  e.add('EACCES');
  const snap = e.snapshot();
  e.add('parse');
  assert.deepEqual(
    [...snap],
    [
      ['EACCES', 2],
      ['timeout', 3],
    ],
  );
  assert.deepEqual(
    [...e.snapshot()],
    [
      ['EACCES', 2],
      ['timeout', 3],
      ['parse', 1],
    ],
  );
});
