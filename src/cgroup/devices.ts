import * as fs from 'node:fs';
import { parseUeventDevName } from './parse/proc.ts';

const cache = new Map<string, string>();

/**
 * The kernel name of a block device (`vda`, `nvme0n1`) from /sys/dev/block/MAJ:MIN/uevent,
 * or `MAJ:MIN` when that cannot be read. Cached: device numbers do not change names while
 * the device exists, and this runs for every disk point of every collection.
 */
export function blockDeviceName(major: number, minor: number, sysRoot = '/sys'): string {
  const key = `${major}:${minor}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let name = key;
  try {
    name = parseUeventDevName(fs.readFileSync(`${sysRoot}/dev/block/${key}/uevent`, 'latin1')) ?? key;
  } catch {
    // no sysfs entry (a device gone, or a fixture's made-up numbers): MAJ:MIN is still unique
  }
  cache.set(key, name);
  return name;
}
