import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sysfsDeviceNames } from '../../src/cgroup/devices.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'dist/cli/main.js');
const fixtures = path.join(repo, 'test/fixtures');

function run(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('stats --json on the v2 fixture prints the kernel integers', () => {
  const r = run('stats', '/', '--root', path.join(fixtures, 'cgroup-v2-kernel-6.18/loaded'), '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { mode: string; stats: Record<string, Record<string, unknown>>; errors: unknown[] };
  assert.equal(j.mode, 'v2');
  assert.deepEqual(j.errors, []);
  assert.equal(j.stats.cpu?.userUsec, 840607);
  assert.equal(j.stats.cpu?.throttledUsec, 3269141);
  assert.equal(j.stats.cpu?.maxQuotaUs, 50000);
  assert.equal(j.stats.memory?.max, 199999488);
  assert.equal(j.stats.memory?.peak, 96116736);
  assert.equal(j.stats.memory?.swapMax, undefined, 'memory.swap.max "max" is no limit, not a number');
  // Device names come from this host's /sys: the fixture's 254:0 is whatever that is here.
  const device = sysfsDeviceNames().name(254, 0);
  assert.deepEqual(j.stats.disk, { devices: [{ major: 254, minor: 0, device, readBytes: 1306624, writeBytes: 209715200, readOps: 114, writeOps: 201 }] });
  assert.deepEqual(j.stats.pids, { current: 2, max: 64 });
});

test('stats prints a table for the v1 fixture tree', () => {
  const r = run('stats', '/', '--root', path.join(fixtures, 'cgroup-v1-kernel-6.18'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^cgroup \/ \(cgroup v1, v1 host\)/);
  assert.match(r.stdout, /\ncpu\.usageUserNs\s+383970096\n/);
  assert.match(r.stdout, /\ncpu\.throttledTimeNs\s+1929621297\n/);
  assert.match(r.stdout, /\nmemory\.limit\s+199999488\n/);
  assert.match(r.stdout, /\nmemory\.stat\.total_cache\s+14524416\n/);
  assert.match(r.stdout, /\npids\.max\s+64\n/);
});

test('stats --groups limits what is read', () => {
  const r = run('stats', '/', '--root', path.join(fixtures, 'cgroup-v2-kernel-6.18/loaded'), '--json', '--groups', 'pids');
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).stats, { version: 2, pids: { current: 2, max: 64 } });
});

test("stats pid:N reads this process's own cgroup on the host", () => {
  const r = run('stats', `pid:${process.pid}`, '--json', '--groups', 'cpu');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { cgroup: { version: number }; stats: { cpu?: Record<string, number> } };
  assert.ok(j.cgroup.version === 1 || j.cgroup.version === 2);
  const cpu = j.stats.cpu ?? {};
  const used = (cpu.usageUserNs ?? 0) + (cpu.usageSysNs ?? 0) + (cpu.userUsec ?? 0) + (cpu.systemUsec ?? 0);
  assert.ok(used > 0, `expected CPU time of a live cgroup, got ${JSON.stringify(cpu)}`);
});

test('stats errors: one line on stderr, exit 1 at run time and 2 for usage', () => {
  const missing = run('stats', '/no-such-cgroup', '--root', path.join(fixtures, 'cgroup-v1-kernel-6.18'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^otel-cgroup-metrics: cgroup not found: \/no-such-cgroup/);
  assert.equal(missing.stderr.trim().split('\n').length, 1);
  const outside = run('stats', '/../../etc', '--root', path.join(fixtures, 'cgroup-v1-kernel-6.18'));
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /"\/\.\.\/\.\.\/etc" leaves the cgroup mount/);
  const badRoot = run('stats', '/', '--root', path.join(fixtures, 'README-not-there'));
  assert.equal(badRoot.code, 1);
  assert.match(badRoot.stderr, /cannot read --root/);
  const badFlag = run('stats', '/', '--bogus');
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /Unknown option '--bogus'/);
  const noArg = run('stats');
  assert.equal(noArg.code, 2);
  assert.match(noArg.stderr, /exactly one CGROUP/);
  const badGroup = run('stats', '/', '--groups', 'cpu,gpu');
  assert.equal(badGroup.code, 2);
  assert.match(badGroup.stderr, /unknown metric group "gpu"/);
  const badPid = run('stats', 'pid:abc');
  assert.equal(badPid.code, 2);
});
