import type { DeviceNames } from '../devices.ts';
import { parseBlkio, type BlkioRow } from '../parse/blkio.ts';
import { blkioTotalOnly } from '../parse/bytes.ts';
import { parseNestedKeyed } from '../parse/file-formats.ts';
import type { Reading } from '../reading.ts';
import type { DiskDeviceStats, DiskStats } from '../types.ts';
import type { Controller } from './controller.ts';

// Where v1 keeps blkio counters, in order of preference: the legacy CFQ files, BFQ's, then the
// throttle layer's (which counts on every kernel, but only for devices with a throttle rule).
const BLKIO_SOURCES: ReadonlyArray<{ bytes: string; ops: string; source: 'recursive' | 'throttle' }> = [
  { bytes: 'blkio.io_service_bytes_recursive', ops: 'blkio.io_serviced_recursive', source: 'recursive' },
  { bytes: 'blkio.bfq.io_service_bytes_recursive', ops: 'blkio.bfq.io_serviced_recursive', source: 'recursive' },
  { bytes: 'blkio.throttle.io_service_bytes_recursive', ops: 'blkio.throttle.io_serviced_recursive', source: 'throttle' },
];

/**
 * Block I/O per device: v1 blkio, v2 io.stat. Each device row carries its kernel name,
 * resolved through the reading's DeviceNames.
 */
export const diskController: Controller = {
  groups: ['disk'],

  readV1(r, cg, s) {
    if (cg.dirs.blkio) s.disk = readBlkio(r, cg.dirs.blkio);
  },

  readV2(r, dir, s) {
    const t = r.text(dir, 'io.stat');
    if (t === undefined) return;
    const lines = parseNestedKeyed(t, r);
    r.rangeChecked(dir, 'io.stat');
    if (lines.length === 0 && t.trim() !== '') r.parseError(dir, 'io.stat', 'no "MAJ:MIN key=value" line');
    const devices: DiskDeviceStats[] = [];
    for (const l of lines) {
      const v = l.values;
      devices.push(device(l.major, l.minor, r.deviceNames, v.get('rbytes') ?? 0, v.get('wbytes') ?? 0, v.get('rios') ?? 0, v.get('wios') ?? 0));
    }
    s.disk = { devices };
  },
};

/** One device row; every row is built here so that all share one object shape. */
function device(major: number, minor: number, names: DeviceNames, readBytes: number, writeBytes: number, readOps: number, writeOps: number): DiskDeviceStats {
  return { major, minor, device: names.name(major, minor), readBytes, writeBytes, readOps, writeOps };
}

function readBlkio(r: Reading, dir: string): DiskStats | undefined {
  let seen = false;
  for (const src of BLKIO_SOURCES) {
    const n = r.raw(dir, src.bytes);
    if (n < 0) continue;
    seen = true;
    if (blkioTotalOnly(r.bytes, r.at, r.at + n)) {
      // `Total N` alone (no I/O): no rows, and no parse error. The next source.
      r.rangeChecked(dir, src.bytes);
      continue;
    }
    const bytesText = r.textOf(n);
    // Every row has a MAJ:MIN: a text without ':' (the usual `Total 0`) has none, no need to split it.
    const bytes = bytesText.includes(':') ? parseBlkio(bytesText, r) : [];
    if (!r.rangeChecked(dir, src.bytes) && bytes.length === 0 && bytesText.trim() !== '' && !/^Total \d+$/m.test(bytesText))
      r.parseError(dir, src.bytes, 'no "MAJ:MIN Op value" row and no Total line');
    if (bytes.length === 0) continue; // `Total 0` only: fall through to the next source
    const opsText = r.text(dir, src.ops);
    const ops = opsText === undefined ? [] : parseBlkio(opsText, r);
    r.rangeChecked(dir, src.ops);
    return { devices: blkioToDevices(bytes, ops, r.deviceNames), source: src.source };
  }
  return seen ? { devices: [] } : undefined;
}

/** v1 blkio rows → per-device read/write bytes and operations, in order of first appearance. */
export function blkioToDevices(bytes: readonly BlkioRow[], ops: readonly BlkioRow[], names: DeviceNames): DiskDeviceStats[] {
  const byDev = new Map<string, DiskDeviceStats>();
  for (const r of bytes) {
    if (r.op === 'Read') rowOf(byDev, r, names).readBytes += r.value;
    else if (r.op === 'Write') rowOf(byDev, r, names).writeBytes += r.value;
  }
  for (const r of ops) {
    if (r.op === 'Read') rowOf(byDev, r, names).readOps += r.value;
    else if (r.op === 'Write') rowOf(byDev, r, names).writeOps += r.value;
  }
  return [...byDev.values()];
}

function rowOf(byDev: Map<string, DiskDeviceStats>, r: BlkioRow, names: DeviceNames): DiskDeviceStats {
  const k = `${r.major}:${r.minor}`;
  let d = byDev.get(k);
  if (!d) {
    d = device(r.major, r.minor, names, 0, 0, 0, 0);
    byDev.set(k, d);
  }
  return d;
}
