import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { cgroupMountsFromDirectory } from '../../src/cgroup/mounts.ts';
import { readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { ALL_GROUPS } from '../../src/cgroup/types.ts';
import { catalogValues, cpuSeconds } from '../../src/metrics/catalog-values.ts';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const read = (dir: string) => readStats(resolveCgroup(cgroupMountsFromDirectory(path.join(fixtures, dir)), '/'), new Set(ALL_GROUPS)).stats;

test('catalogValues converts a reading to OTel units, the same for v1 and v2', () => {
  const v2 = read('cgroup-v2-kernel-6.18/loaded');
  assert.ok(Math.abs((cpuSeconds(v2) ?? 0) - (0.840607 + 1.130241)) < 1e-12);
  const values = catalogValues(v2, ['cpu', 'memory']);
  assert.deepEqual(
    values.find((v) => v.name === 'container.cpu.time' && v.attributes['cpu.mode'] === 'system'),
    { name: 'container.cpu.time', unit: 's', value: 1.130241, attributes: { 'cpu.mode': 'system' } },
  );
  assert.equal(values.find((v) => v.name === 'container.cpu.limit')?.value, 0.5);
  assert.equal(values.find((v) => v.name === 'container.memory.usage.limit')?.value, 199999488);
  assert.equal(
    values.some((v) => v.name.startsWith('container.pids')),
    false,
    'only the groups asked for',
  );
  const v1 = read('cgroup-v1-kernel-6.18');
  // v1: the exact cpuacct.usage, not the tick-sampled usage_user + usage_sys (1.7 % more here).
  assert.ok(Math.abs((cpuSeconds(v1) ?? 0) - 1549867554 / 1e9) < 1e-12);
  const user = catalogValues(v1, ['cpu']).find((v) => v.attributes['cpu.mode'] === 'user')?.value ?? NaN;
  assert.ok(Math.abs(user - (1549867554 * 383970096) / (383970096 + 1191972229) / 1e9) < 1e-12, `user ${user}`);
  assert.equal(cpuSeconds({ version: 2 }), undefined);
});

test('v1 CPU by mode: the monotonic split when the reader made one; the sampled counters or ticks otherwise', () => {
  const seconds = (cpu: object) => Object.fromEntries(catalogValues({ version: 1, cpu }, ['cpu']).map((v) => [v.attributes['cpu.mode'], v.value]));
  assert.deepEqual(seconds({ usageNs: 3e9, userNs: 2e9, systemNs: 1e9, usageUserNs: 2.2e9, usageSysNs: 1e9 }), { user: 2, system: 1 });
  // No cpuacct.usage (a hand-made tree): the sampled values as they are.
  assert.deepEqual(seconds({ usageUserNs: 2e9, usageSysNs: 1e9 }), { user: 2, system: 1 });
  assert.deepEqual(seconds({ userTicks: 150, systemTicks: 50 }), { user: 1.5, system: 0.5 });
});
