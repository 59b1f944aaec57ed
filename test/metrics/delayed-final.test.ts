/**
 * Delta temporality and a final reading that reaches the reader a collection late: a stop
 * storm's final reads run in 5 ms slices, so the collection right after the storm carries only
 * the first ones; the others go out with the next collection. The producer keeps each stopped
 * task's delta state until its final reading goes out (a bounded number of collections), so
 * the final delta is "final − last collected", never the whole counter again. Expected values
 * come from the kernel files (the fixtures' cpu.stat), by plain subtraction.
 */
import { MeterProvider, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { CgroupMetrics } from '../../src/index.ts';
import { TempV2Tree, TestReader, V2, hrMs, idsIn, taskPoints } from './helpers.ts';

/** `key` of a cpu.stat file, in seconds (the file counts µs). */
function cpuStat(dir: string, key: string): number {
  const line = fs
    .readFileSync(path.join(dir, 'cpu.stat'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${key} `));
  assert.ok(line, `${key} in ${dir}/cpu.stat`);
  return Number(line.split(' ')[1]) / 1e6;
}

test('delta: final readings delayed behind a stop storm carry final − last collected, not the whole counter', async (t) => {
  const N = 2000;
  const tree = new TempV2Tree();
  t.after(() => tree.cleanup());
  for (let i = 0; i < N; i++) tree.addCgroup(`t${i}`, V2.loaded, ['cpu.stat']);
  const cg = new CgroupMetrics({ root: tree.root, groups: ['cpu'] });
  const r = new TestReader({ metricProducers: [cg.producer({ temporality: AggregationTemporality.DELTA })] });
  new MeterProvider({ readers: [r] });
  const start = Date.now() - 1000;
  for (let i = 0; i < N; i++) cg.add({ id: `t${i}`, cgroup: `/t${i}`, startTime: start });

  // Collection 0: every task live, its whole counter (the fixture `loaded`).
  const c0 = (await r.collect({ timeoutMillis: 60_000 })).resourceMetrics;
  assert.equal(idsIn(c0).size, N);
  const loadedUser = cpuStat(V2.loaded, 'user_usec');
  const loadedSystem = cpuStat(V2.loaded, 'system_usec');
  const c0End = new Map<string, number>();
  for (let i = 0; i < N; i++) {
    const p = taskPoints(c0, 'container.cpu.time', `t${i}`, { 'cpu.mode': 'user' })[0];
    assert.equal(p?.value, loadedUser);
    c0End.set(`t${i}`, hrMs(p?.endTime ?? [0, 0]));
  }

  // The tasks run on and end: their counters move to the fixture `after_exit`'s.
  const after = fs.readFileSync(path.join(V2.afterExit, 'cpu.stat'));
  for (let i = 0; i < N; i++) fs.writeFileSync(path.join(tree.dir(`t${i}`), 'cpu.stat'), after);
  const wantUser = cpuStat(V2.afterExit, 'user_usec') - loadedUser;
  const wantSystem = cpuStat(V2.afterExit, 'system_usec') - loadedSystem;

  // The storm: every task stopped at once. The collection right after it carries the final
  // readings read so far; the rest are read in the next slices and go out one collection later.
  const stops = Array.from({ length: N }, (_, i) => cg.stop(`t${i}`));
  const c1 = (await r.collect({ timeoutMillis: 60_000 })).resourceMetrics;
  await Promise.all(stops);
  const c2 = (await r.collect({ timeoutMillis: 60_000 })).resourceMetrics;
  const in1 = idsIn(c1);
  const in2 = idsIn(c2);
  console.log(`# stop storm of ${N}: ${in1.size} final readings in the collection right after it, ${in2.size} one collection later`);
  assert.ok(in1.size > 0, 'the first final reading (read in the stop() call) is in the collection right after the storm');
  assert.ok(in2.size > 0, `all ${N} final reads finished before the collection right after the storm: no final reading was delayed (the test proves nothing)`);
  assert.equal(in1.size + in2.size, N, 'every final reading exactly once');
  for (const id of in1) assert.ok(!in2.has(id), `${id} delivered twice`);

  let delayedChecked = 0;
  for (let i = 0; i < N; i++) {
    const id = `t${i}`;
    const rm = in1.has(id) ? c1 : c2;
    const user = taskPoints(rm, 'container.cpu.time', id, { 'cpu.mode': 'user' })[0];
    const system = taskPoints(rm, 'container.cpu.time', id, { 'cpu.mode': 'system' })[0];
    const where = in1.has(id) ? 'on time' : 'delayed';
    assert.ok(user && system, `${id}: no final points`);
    assert.ok(Math.abs(user.value - wantUser) < 1e-9, `${id} (${where}): final user delta ${user.value} s, want ${wantUser} s (after_exit − loaded)`);
    assert.ok(Math.abs(system.value - wantSystem) < 1e-9, `${id} (${where}): final system delta ${system.value} s, want ${wantSystem} s`);
    assert.equal(hrMs(user.startTime), c0End.get(id), `${id} (${where}): the final delta starts where the last collected one ended`);
    if (!in1.has(id)) delayedChecked++;
  }
  assert.ok(delayedChecked > 0);
  const c3 = (await r.collect()).resourceMetrics;
  assert.equal(idsIn(c3).size, 0, 'nothing left after the finals');
});
