/**
 * Block-device names: the sysfs resolver (one cache per sys root, `MAJ:MIN` when a device has
 * no entry), readStats naming each disk row through the resolver it is given, and the catalog
 * labelling points with the name from the reading.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sysfsDeviceNames } from '../../src/cgroup/devices.ts';
import { cgroupMountsFromDirectory } from '../../src/cgroup/mounts.ts';
import { readCycle } from '../../src/cgroup/read-cycle.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import type { CgroupStats } from '../../src/cgroup/types.ts';
import { CATALOG } from '../../src/metrics/catalog.ts';
import { fakeDeviceNames } from '../helpers/device-names.ts';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const V2_LOADED = path.join(FIXTURES, 'cgroup-v2-kernel-6.18/loaded');
const V1 = path.join(FIXTURES, 'cgroup-v1-kernel-6.18');

/** A sys tree with `dev/block/MAJ:MIN/uevent` for each entry. */
function sysTree(devices: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-sys-'));
  for (const [dev, uevent] of Object.entries(devices)) {
    fs.mkdirSync(path.join(root, 'dev/block', dev), { recursive: true });
    fs.writeFileSync(path.join(root, 'dev/block', dev, 'uevent'), uevent);
  }
  return root;
}

describe('sysfsDeviceNames', () => {
  const roots: string[] = [];
  after(() => {
    for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  });

  test('DEVNAME from <sysRoot>/dev/block/MAJ:MIN/uevent; MAJ:MIN without an entry or a DEVNAME', () => {
    const root = sysTree({ '254:0': 'MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n', '8:0': 'MAJOR=8\nMINOR=0\n' });
    roots.push(root);
    const names = sysfsDeviceNames(root);
    assert.equal(names.name(254, 0), 'vda');
    assert.equal(names.name(8, 0), '8:0', 'no DEVNAME line');
    assert.equal(names.name(7, 3), '7:3', 'no sysfs entry');
    assert.equal(names.name(4096, 0), '4096:0', 'beyond the kernel’s 12-bit major');
    assert.equal(names.name(0, 1 << 20), `0:${1 << 20}`, 'beyond the kernel’s 20-bit minor');
  });

  test('one cache per sys root: a name is read once, and another root reads its own', () => {
    const a = sysTree({ '254:0': 'DEVNAME=vda\n' });
    const b = sysTree({ '254:0': 'DEVNAME=nvme0n1\n' });
    roots.push(a, b);
    assert.equal(sysfsDeviceNames(a), sysfsDeviceNames(a), 'the same resolver for the same root');
    assert.equal(sysfsDeviceNames(a).name(254, 0), 'vda');
    assert.equal(sysfsDeviceNames(b).name(254, 0), 'nvme0n1');
    fs.writeFileSync(path.join(a, 'dev/block/254:0/uevent'), 'DEVNAME=vdz\n');
    assert.equal(sysfsDeviceNames(a).name(254, 0), 'vda', 'cached: device numbers keep their names');
  });
});

describe('readStats names disk rows through the resolver it is given', () => {
  const names = fakeDeviceNames({ '254:0': 'fake0' });

  test('v2 io.stat rows', () => {
    const cg = resolveCgroup(cgroupMountsFromDirectory(V2_LOADED), '/');
    const r = readStats(cg, new Set(['disk']), newReadState(), { deviceNames: names });
    assert.deepEqual(
      r.stats.disk?.devices.map((d) => d.device),
      ['fake0'],
    );
  });

  test('v1 blkio rows', (t) => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-devices-'));
    t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
    fs.cpSync(V1, tmp, { recursive: true });
    fs.chmodSync(path.join(tmp, 'blkio'), 0o755);
    fs.writeFileSync(path.join(tmp, 'blkio/blkio.throttle.io_service_bytes_recursive'), '254:0 Read 4096\n254:0 Write 8192\n8:16 Read 512\nTotal 12800\n');
    fs.writeFileSync(path.join(tmp, 'blkio/blkio.throttle.io_serviced_recursive'), '254:0 Read 1\n254:0 Write 2\n8:16 Read 1\nTotal 4\n');
    const cg = resolveCgroup(cgroupMountsFromDirectory(tmp), '/');
    const r = readStats(cg, new Set(['disk']), newReadState(), { deviceNames: names });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.stats.disk, {
      source: 'throttle',
      devices: [
        { major: 254, minor: 0, device: 'fake0', readBytes: 4096, writeBytes: 8192, readOps: 1, writeOps: 2 },
        { major: 8, minor: 16, device: '8:16', readBytes: 512, writeBytes: 0, readOps: 1, writeOps: 0 },
      ],
    });
  });

  test('readCycle passes its resolver to every read', async () => {
    const cg = resolveCgroup(cgroupMountsFromDirectory(V2_LOADED), '/');
    const tasks = [1, 2].map(() => ({ cgroup: cg, state: newReadState() }));
    const { results } = await readCycle(tasks, new Set(['disk']), { deviceNames: names });
    assert.deepEqual(
      results.map((r) => r?.stats.disk?.devices[0]?.device),
      ['fake0', 'fake0'],
    );
  });
});

test('the catalog labels disk points with the name from the reading', () => {
  const row = CATALOG.find((m) => m.name === 'container.disk.io');
  assert.ok(row);
  const stats: CgroupStats = { version: 2, disk: { devices: [{ major: 254, minor: 0, device: 'sdq', readBytes: 1, writeBytes: 2, readOps: 3, writeOps: 4 }] } };
  const points: Array<[number, unknown]> = [];
  row.read(stats, (v, attrs) => points.push([v, attrs]), { startTimeMs: 0, timeMs: 0 });
  assert.deepEqual(points, [
    [1, { 'disk.io.direction': 'read', 'system.device': 'sdq' }],
    [2, { 'disk.io.direction': 'write', 'system.device': 'sdq' }],
  ]);
});
