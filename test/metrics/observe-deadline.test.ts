/**
 * observe()'s own deadline: the SDK gives a batch callback no deadline when the reader's
 * collect() has none, so the callback must bring its own (the engine's collectTimeoutMs). It
 * then returns by it with what was read, the rest counted as `timeout` read errors, and never
 * throws. How many tasks make a read longer than the deadline is measured on this machine
 * first (a full read of the tasks takes at least 20 × the deadline), not assumed.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CgroupMetrics } from '../../src/index.ts';
import { TestReader, V2, idsIn, selfValue } from './helpers.ts';

const DEADLINE_MS = 20;

/** ms to read one task of the `loaded` fixture (cpu group), the fastest of a few warm full reads. */
async function msPerTask(): Promise<number> {
  const probe = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const reader = new TestReader({ metricProducers: [probe.producer()] });
  new MeterProvider({ readers: [reader] });
  const n = 1000;
  for (let i = 0; i < n; i++) probe.add({ id: `p${i}`, cgroup: '/' });
  let best = Infinity;
  for (let k = 0; k < 4; k++) {
    const rm = (await reader.collect({ timeoutMillis: 60_000 })).resourceMetrics;
    assert.equal(idsIn(rm).size, n);
    best = Math.min(best, (selfValue(rm, 'cgroup_metrics.collection.duration') as number) * 1000);
  }
  return best / n;
}

test("observe(): a reader collecting without a deadline gets the callback's answer by the engine's collectTimeoutMs, with what was read; the rest are timeouts", async () => {
  const perTask = await msPerTask();
  const N = Math.max(1000, Math.ceil((20 * DEADLINE_MS) / perTask));
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'], collectTimeoutMs: DEADLINE_MS });
  for (let i = 0; i < N; i++) cg.add({ id: `t${i}`, cgroup: '/' });
  const reader = new TestReader();
  const mp = new MeterProvider({ readers: [reader] });
  const handle = cg.observe(mp.getMeter('observe-deadline'));
  try {
    let before = 0;
    for (let k = 0; k < 3; k++) {
      // No timeoutMillis: the SDK waits for the callback as long as it takes.
      const { resourceMetrics: rm, errors } = await reader.collect();
      assert.deepEqual(errors, [], 'the callback never throws');
      // The engine's own count (cumulative): the tasks this collection cut off. (The task
      // series themselves are capped by the SDK at 2000 attribute sets: #4096.)
      const timeouts = selfValue(rm, 'cgroup_metrics.read.errors', { 'error.type': 'timeout' }) ?? 0;
      const cut = timeouts - before;
      before = timeouts;
      console.log(`# observe, collection ${k}: ${N - cut} of ${N} tasks read by the ${DEADLINE_MS} ms deadline (a full read ~${(N * perTask).toFixed(0)} ms)`);
      assert.ok(
        cut > 0,
        `collection ${k}: all ${N} tasks read (~${(N * perTask).toFixed(0)} ms of reads): the callback did not stop at its ${DEADLINE_MS} ms deadline`,
      );
      assert.ok(cut < N, `collection ${k}: nothing read by the deadline`);
      assert.ok(idsIn(rm).size > 0, `collection ${k}: what was read by the deadline was not observed`);
    }
  } finally {
    handle.unregister();
  }
});
