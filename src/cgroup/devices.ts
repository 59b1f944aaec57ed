import * as fs from 'node:fs';
import { parseUeventDevName } from './parse/proc.ts';

/** Names block devices by number: how the disk controller labels its rows. */
export interface DeviceNames {
  /** The kernel name of device MAJ:MIN (`vda`, `nvme0n1`), or `MAJ:MIN` when it has none. Never throws. */
  name(major: number, minor: number): string;
}

// The kernel's dev_t: a 12-bit major and a 20-bit minor, so that one exact integer keys the
// cache and a lookup builds no string. Numbers outside that range name no kernel device.
const MINOR_LIMIT = 1 << 20;
const MAJOR_LIMIT = 1 << 12;

/**
 * Reads the names from `<sysRoot>/dev/block/MAJ:MIN/uevent` (DEVNAME) and keeps them: device
 * numbers do not change names while the device exists, and every disk row of every reading
 * asks. A device with no sysfs entry (gone, or a fixture's made-up numbers) is `MAJ:MIN`,
 * which is still unique.
 */
class SysfsDeviceNames implements DeviceNames {
  private readonly names = new Map<number, string>();
  constructor(private readonly sysRoot: string) {}

  name(major: number, minor: number): string {
    if (!(major >= 0 && major < MAJOR_LIMIT && minor >= 0 && minor < MINOR_LIMIT)) return `${major}:${minor}`;
    const key = major * MINOR_LIMIT + minor;
    let name = this.names.get(key);
    if (name === undefined) {
      name = this.lookUp(`${major}:${minor}`);
      this.names.set(key, name);
    }
    return name;
  }

  private lookUp(dev: string): string {
    try {
      return parseUeventDevName(fs.readFileSync(`${this.sysRoot}/dev/block/${dev}/uevent`, 'latin1')) ?? dev;
    } catch {
      return dev;
    }
  }
}

const bySysRoot = new Map<string, DeviceNames>();

/** The device names of the sysfs mounted at `sysRoot`: one shared cache per root. */
export function sysfsDeviceNames(sysRoot = '/sys'): DeviceNames {
  let names = bySysRoot.get(sysRoot);
  if (!names) {
    names = new SysfsDeviceNames(sysRoot);
    bySysRoot.set(sysRoot, names);
  }
  return names;
}
