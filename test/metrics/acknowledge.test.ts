/**
 * Acknowledged delivery, unit by unit: the queue's cursor moves only on acknowledgement, an
 * unacknowledged collection's final readings come again with the consumer's next one (one
 * per (namespace, id) each time, bounded and counted like the queue), an older receipt after
 * a newer one changes nothing, a closed consumer releases everything, and a manual producer
 * acknowledges through collectDeliveries() around its reader's collect().
 */
import { AggregationTemporality, MeterProvider } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { CgroupStats, TaskCgroup } from '../../src/cgroup/types.ts';
import { FinalQueue } from '../../src/metrics/final-queue.ts';
import { FinalReadings } from '../../src/metrics/final-readings.ts';
import { Task } from '../../src/metrics/task.ts';
import { CgroupMetrics, ConfigError, ForeignReceiptError, collectDeliveries } from '../../src/index.ts';
import { AFTER_EXIT, LOADED, TempV2Tree, TestReader, V2, idsIn, taskValue } from './helpers.ts';

const CGROUP: TaskCgroup = { version: 2, path: '/', dir: V2.loaded };
const STATS = { version: 2 } as CgroupStats;

function peekAll(q: FinalQueue<string>, c: ReturnType<FinalQueue<string>['register']>): { got: string[]; seq: number } {
  const got: string[] = [];
  const seq = q.peek(c, (s) => {
    got.push(s);
    return true;
  });
  return { got, seq };
}

test('FinalQueue: a peek is repeated until advance(); an older advance changes nothing; pendingFor counts per consumer', () => {
  const q = new FinalQueue<string>(3);
  const a = q.register();
  const b = q.register();
  q.push('1');
  q.push('2');
  const first = peekAll(q, a);
  assert.deepEqual(first, { got: ['1', '2'], seq: 2 });
  q.push('3');
  const second = peekAll(q, a);
  assert.deepEqual(second, { got: ['1', '2', '3'], seq: 3 }, 'unacknowledged: taken again, with what came since');
  assert.equal(q.pendingFor(a), 3);
  q.advance(a, second.seq);
  q.advance(a, first.seq);
  assert.deepEqual(peekAll(q, a).got, [], 'the older acknowledgement did not move the cursor back');
  assert.equal(q.pendingFor(a), 0);
  assert.equal(q.pendingFor(b), 3);
  assert.equal(q.size, 3, 'b has not acknowledged them: kept');
  q.push('4');
  assert.equal(q.dropped, 1, 'the bound applies to unacknowledged entries');
  assert.deepEqual(peekAll(q, b).got, ['2', '3', '4']);
  assert.equal(q.pendingFor(b), 3);
  assert.deepEqual(peekAll(q, a).got, ['4']);
  q.unregister(b);
  q.advance(a, q.nextSeq);
  assert.equal(q.size, 0, 'freed once every registered consumer acknowledged');
});

test('FinalReadings: peek() leaves the readings pending until acknowledge(); one per (namespace, id) each time', () => {
  const f = new FinalReadings(10);
  const c = f.open();
  const a1 = new Task('a', 'default', CGROUP, 0, undefined);
  const a2 = new Task('a', 'default', CGROUP, 0, undefined);
  const b = new Task('b', 'default', CGROUP, 0, undefined);
  f.queueRead(a1, STATS, 1);
  f.queueRead(b, STATS, 2);
  f.queueRead(a2, STATS, 3);
  const p1 = f.peek(c);
  assert.deepEqual(
    p1.finals.map((r) => [r.task.id, r.timeMs]),
    [
      ['a', 1],
      ['b', 2],
    ],
  );
  assert.deepEqual(
    f.peek(c).finals.map((r) => r.timeMs),
    [1, 2],
    'not acknowledged: the same readings again, the second incarnation of a still waits',
  );
  assert.equal(f.pendingFor(c), 3);
  f.acknowledge(c, p1.seq);
  assert.deepEqual(
    f.peek(c).finals.map((r) => [r.task.id, r.timeMs]),
    [['a', 3]],
  );
  assert.equal(f.pendingFor(c), 1);
  assert.equal(f.pending, 1);
});

test("consumer acknowledge 'manual': finals repeat until acknowledged; older receipt harmless; foreign receipt typed; close releases", async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const m = cg.openConsumer({ acknowledge: 'manual' });
  const other = cg.openConsumer({ acknowledge: 'manual' });
  const auto = cg.openConsumer();
  assert.throws(() => cg.openConsumer({ acknowledge: 'sometimes' as 'auto' }), ConfigError);
  cg.add({ id: 'x', cgroup: '/' });
  cg.add({ id: 'y', cgroup: '/' });
  await cg.stop('x');
  const s1 = await m.snapshot();
  assert.deepEqual(
    s1.finals.map((f) => f.task.id),
    ['x'],
  );
  assert.equal(s1.delivery.finals, 1);
  assert.deepEqual(
    s1.live.map((l) => l.task.id),
    ['y'],
  );
  await cg.stop('y');
  const s2 = await m.snapshot();
  assert.deepEqual(s2.finals.map((f) => f.task.id).sort(), ['x', 'y'], 'x again (not acknowledged), and y');
  assert.equal(m.pending, 2);
  m.acknowledge(s2.delivery);
  m.acknowledge(s1.delivery);
  assert.equal(m.pending, 0, 'the older receipt after the newer one changed nothing');
  const s3 = await m.snapshot();
  assert.deepEqual(s3.finals, []);
  assert.equal(s3.delivery.finals, 0);
  assert.throws(() => other.acknowledge(s3.delivery), ForeignReceiptError);
  assert.throws(() => m.acknowledge({ finals: 0 }), ForeignReceiptError);

  const a1 = await auto.snapshot();
  assert.deepEqual(a1.finals.map((f) => f.task.id).sort(), ['x', 'y']);
  assert.deepEqual((await auto.snapshot()).finals, [], "auto: a collection is delivery (today's behaviour)");
  auto.acknowledge(a1.delivery); // harmless

  assert.equal(other.pending, 2);
  assert.equal((await m.snapshot()).self.pending, 0, "the self metric is each reader's own: m acknowledged them");
  const o1 = await other.snapshot();
  assert.equal(o1.self.pending, 2, "other's own: taken, not yet acknowledged");
  other.close();
  assert.equal(other.pending, 0);
  other.acknowledge(o1.delivery); // after close: nothing happens
});

test("producer acknowledge 'manual': collectDeliveries() around the reader's collect(); unacknowledged finals repeat, with the same delta", async (t) => {
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  tree.addCgroup('x');
  const cg = new CgroupMetrics({ root: tree.root, groups: ['cpu'] });
  const producer = cg.producer({ acknowledge: 'manual', temporality: AggregationTemporality.DELTA });
  const r = new TestReader({ metricProducers: [producer] });
  new MeterProvider({ readers: [r] });
  assert.throws(() => cg.producer({ acknowledge: 'never' as 'auto' }), ConfigError);
  cg.add({ id: 'x', cgroup: '/x' });
  const c0 = await collectDeliveries(() => r.collect());
  c0.deliveries.acknowledge();
  assert.equal(c0.deliveries.finals, 0);
  assert.equal(taskValue(c0.result.resourceMetrics, 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), LOADED.cpuUser, 'first delta: since the start');
  // The task used more CPU before it ended: its final delta is after_exit's minus loaded's.
  fs.writeFileSync(path.join(tree.dir('x'), 'cpu.stat'), fs.readFileSync(path.join(V2.afterExit, 'cpu.stat')));
  await cg.stop('x');
  const c1 = await collectDeliveries(() => r.collect());
  assert.equal(c1.deliveries.finals, 1);
  const v1 = taskValue(c1.result.resourceMetrics, 'container.cpu.time', 'x', { 'cpu.mode': 'user' });
  assert.ok(v1 !== undefined && Math.abs(v1 - (AFTER_EXIT.cpuUser - LOADED.cpuUser)) < 1e-9, `final delta ${v1}`);
  assert.equal(producer.pending, 1);
  const c2 = await collectDeliveries(() => r.collect()); // c1 was "lost": not acknowledged
  assert.ok(idsIn(c2.result.resourceMetrics).has('x'), 'the final reading goes out again');
  assert.equal(taskValue(c2.result.resourceMetrics, 'container.cpu.time', 'x', { 'cpu.mode': 'user' }), v1, 'with the same delta');
  c2.deliveries.acknowledge();
  assert.equal(producer.pending, 0);
  const c3 = await collectDeliveries(() => r.collect());
  assert.ok(!idsIn(c3.result.resourceMetrics).has('x'), 'acknowledged: gone');
  // Outside collectDeliveries() nobody can acknowledge: the reading stays pending, never lost.
  cg.add({ id: 'z', cgroup: CGROUP });
  await cg.stop('z');
  await r.collect();
  await r.collect();
  assert.equal(producer.pending, 1);
  assert.ok(idsIn((await r.collect()).resourceMetrics).has('z'));
  await producer.shutdown();
  assert.equal(producer.pending, 0);
});

test("producer with no option acknowledges as it collects (today's behaviour)", async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const producer = cg.producer();
  const r = new TestReader({ metricProducers: [producer] });
  new MeterProvider({ readers: [r] });
  cg.add({ id: 'x', cgroup: CGROUP });
  await cg.stop('x');
  const { deliveries } = await collectDeliveries(() => r.collect());
  assert.equal(deliveries.finals, 0, 'an auto producer records no receipt');
  assert.equal(producer.pending, 0);
  assert.ok(!idsIn((await r.collect()).resourceMetrics).has('x'));
});

test('an idle consumer (never collected) costs the queue its capacity, and dropped counts only what each reader never got', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'], maxPendingFinalReadings: 5 });
  const active = cg.openConsumer();
  const idle = cg.openConsumer();
  const got: string[] = [];
  for (let i = 0; i < 12; i++) {
    cg.add({ id: `t${i}`, cgroup: '/' });
    await cg.stop(`t${i}`);
    const s = await active.snapshot();
    got.push(...s.finals.map((f) => f.task.id));
    assert.equal(s.self.dropped, 0, 'the active reader got every final reading: it lost none');
    assert.equal(s.self.pending, 0);
  }
  assert.deepEqual(
    got,
    Array.from({ length: 12 }, (_, i) => `t${i}`),
  );
  assert.equal(idle.pending, 5, 'the idle reader holds the queue at its capacity');
  const late = await idle.snapshot();
  assert.deepEqual(
    late.finals.map((f) => f.task.id),
    ['t7', 't8', 't9', 't10', 't11'],
  );
  assert.equal(late.self.dropped, 7, 'the idle reader never got t0..t6');
  assert.equal((await active.snapshot()).self.dropped, 0);
});
