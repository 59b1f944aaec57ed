import type { DeviceNames } from '../../src/cgroup/devices.ts';

/**
 * A DeviceNames that reads nothing: the names in `table` (`'254:0': 'vda'`), else `MAJ:MIN`
 * as for a device with no sysfs entry. Tests pass it so that readings do not depend on the
 * host's block devices.
 */
export function fakeDeviceNames(table: Readonly<Record<string, string>> = {}): DeviceNames {
  return { name: (major, minor) => table[`${major}:${minor}`] ?? `${major}:${minor}` };
}

/** The names of the machine that the fixtures were taken on. */
export const FIXTURE_DEVICE_NAMES = fakeDeviceNames({ '254:0': 'vda', '254:16': 'vdb' });
