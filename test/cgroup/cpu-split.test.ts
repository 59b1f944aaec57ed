import fc from 'fast-check';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitCpu, type CpuSplit } from '../../src/cgroup/cpu-split.ts';

test('first reading: the exact total by the sampled shares; nothing sampled yet: all user time', () => {
  assert.deepEqual(splitCpu(undefined, 3e9, 2.2e9, 1e9), {
    usage: 3e9,
    sampledUser: 2.2e9,
    sampledSys: 1e9,
    user: 3e9 * (2.2 / 3.2),
    system: 3e9 - 3e9 * (2.2 / 3.2),
  });
  const tiny = splitCpu(undefined, 4e6, 0, 0);
  assert.equal(tiny.user, 4e6);
  assert.equal(tiny.system, 0);
});

test('the case that made a counter go backwards with `usage × share`: a system tick lands while the total grows less', () => {
  const a = splitCpu(undefined, 100e6, 60e6, 40e6); // user 60, system 40 (ms)
  // 1 ms more CPU in all, but the sampled system counter jumps a 4 ms tick.
  const b = splitCpu(a, 101e6, 60e6, 44e6);
  const naiveSystem = 101e6 * (44 / 104);
  assert.ok(naiveSystem > a.system, 'here the share split would not go backwards...');
  const c = splitCpu(b, 102e6, 68e6, 44e6); // ...but two user ticks next: the naive system share falls
  assert.ok(102e6 * (44 / 112) < b.system, 'the naive split goes backwards here');
  assert.ok(c.system >= b.system && c.user >= b.user, `monotonic: ${JSON.stringify({ b, c })}`);
  assert.equal(c.user + c.system, 102e6);
});

test('counters that went backwards (a new cgroup under the same path) start a new split', () => {
  const a = splitCpu(undefined, 100e6, 60e6, 40e6);
  const b = splitCpu(a, 10e6, 5e6, 5e6);
  assert.deepEqual(b, splitCpu(undefined, 10e6, 5e6, 5e6));
});

test('property: over any sequence of readings both modes only grow and they sum to the exact total', () => {
  // Increments: the total's, and the sampled counters' (ticks of 4 ms, or nothing).
  const step = fc.record({
    dUsage: fc.integer({ min: 0, max: 50_000_000 }),
    userTicks: fc.integer({ min: 0, max: 12 }),
    sysTicks: fc.integer({ min: 0, max: 12 }),
  });
  fc.assert(
    fc.property(fc.array(step, { minLength: 1, maxLength: 200 }), (steps) => {
      let usage = 0;
      let su = 0;
      let ss = 0;
      let prev: CpuSplit | undefined;
      for (const s of steps) {
        usage += s.dUsage;
        su += s.userTicks * 4e6;
        ss += s.sysTicks * 4e6;
        const next = splitCpu(prev, usage, su, ss);
        if (prev) {
          assert.ok(next.user >= prev.user, `user went back: ${prev.user} -> ${next.user}`);
          assert.ok(next.system >= prev.system, `system went back: ${prev.system} -> ${next.system}`);
        }
        assert.ok(next.user >= 0 && next.system >= 0);
        assert.ok(Math.abs(next.user + next.system - usage) <= 1e-6 * Math.max(1, usage), `sum ${next.user + next.system} vs ${usage}`);
        prev = next;
      }
    }),
  );
});
