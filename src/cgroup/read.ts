import { compact } from './compact.ts';
import { CONTROLLERS } from './controllers/registry.ts';
import { sysfsDeviceNames, type DeviceNames } from './devices.ts';
import { FileReader } from './file-reader.ts';
import type { FileBudget } from './kept-files.ts';
import type { NetnsRegistry } from './netns.ts';
import { newReadState, type ReadState } from './read-state.ts';
import { Reading } from './reading.ts';
import type { Controller } from './controllers/controller.ts';
import type { MetricGroup, ReadResult, TaskCgroup, V1Stats, V2Stats } from './types.ts';

export { endReadState, newReadState, type ReadState } from './read-state.ts';

/** How readStats reaches the system; every field has a default for the host. */
export interface ReadOptions {
  /** Reads the cgroup files (default: one shared FileReader). */
  reader?: FileReader;
  /** Names block devices in disk rows (default: the host's /sys, see sysfsDeviceNames). */
  deviceNames?: DeviceNames;
  /**
   * Keep the task's files open between reads within this budget (see kept-files.ts): a task
   * without kept files is admitted when the budget has room. Absent: open/read/close.
   */
  keep?: FileBudget;
  /** Reads the tasks' network namespaces (see netns.ts); absent, the network group reads nothing. */
  netns?: NetnsRegistry;
}

const defaultReader = new FileReader();
const hostDeviceNames = sysfsDeviceNames();
const NO_OPTIONS: ReadOptions = {};

function enabled(c: Controller, groups: ReadonlySet<MetricGroup>): boolean {
  for (let i = 0; i < c.groups.length; i++) if (groups.has(c.groups[i] as MetricGroup)) return true;
  return false;
}

/**
 * Reads one task's cgroup: only the files that the enabled metric groups need, through the
 * controller readers of controllers/registry.ts. Never throws: a missing file leaves its
 * value absent, a bad file becomes an entry of `errors`, and a cgroup removed mid-read gives
 * `gone: true` with whatever was read before. `options` may also be a FileReader alone.
 */
export function readStats(
  cgroup: TaskCgroup,
  groups: ReadonlySet<MetricGroup>,
  state: ReadState = newReadState(),
  options: ReadOptions | FileReader = NO_OPTIONS,
): ReadResult {
  const timeMs = Date.now();
  if (!(options instanceof FileReader) && options.keep && state.kept === undefined) state.kept = options.keep.admit();
  state.kept?.rewind();
  const r =
    options instanceof FileReader
      ? new Reading(options, state, hostDeviceNames)
      : new Reading(options.reader ?? defaultReader, state, options.deviceNames ?? hostDeviceNames, options.netns);
  let stats: V1Stats | V2Stats;
  if (cgroup.version === 1) {
    const s: V1Stats = { version: 1 };
    for (let i = 0; i < CONTROLLERS.length; i++) {
      const c = CONTROLLERS[i] as Controller;
      if (enabled(c, groups)) c.readV1(r, cgroup, s, groups);
    }
    stats = compact(s);
  } else {
    const s: V2Stats = { version: 2 };
    for (let i = 0; i < CONTROLLERS.length; i++) {
      const c = CONTROLLERS[i] as Controller;
      if (enabled(c, groups)) c.readV2(r, cgroup.dir, s, groups);
    }
    stats = compact(s);
  }
  return { stats, errors: r.errors, gone: r.gone, timeMs };
}
