import { ConfigError } from '../errors.ts';
import type { Attributes } from '@opentelemetry/api';
import type { CgroupSpec } from '../cgroup/resolve.ts';
import type { TaskCgroup } from '../cgroup/types.ts';

export interface AddTaskOptions {
  id: string;
  /** containerd's notion: `default`, `k8s.io`, `moby`, a job runner's tenant. Default `default`. */
  namespace?: string;
  /** A cgroup path relative to each hierarchy's root, `{ pid }`, or an already resolved TaskCgroup. */
  cgroup: CgroupSpec | TaskCgroup;
  /** Extra point attributes (`container.name`, `k8s.pod.name`); they never override container.id/namespace. */
  attributes?: Attributes;
  /** When the task started (default: now): the start time of its cumulative series and of uptime. */
  startTime?: Date | number;
  /**
   * Read the cgroup now (about 0.2 ms a task; a burst of adds is read in slices), so that a
   * task whose cgroup is removed before any collection still has a final reading. Discovery
   * passes it; off by default, to keep add() cheap.
   */
  firstReading?: boolean;
}

/** What add() takes from its options once they are checked. */
export interface CheckedTask {
  id: string;
  namespace: string;
  /** ms since the epoch. */
  startTimeMs: number;
}

/** A name of a task: a non-empty string without NUL (the separator of the engine's task keys). */
function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new ConfigError(`task ${what} must be a non-empty string, got ${describe(value)}`);
  if (value.includes('\u0000')) throw new ConfigError(`task ${what} ${JSON.stringify(value)} holds a NUL character`);
  return value;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (value instanceof Date) return 'an invalid Date';
  return typeof value === 'string' ? JSON.stringify(value) : `${typeof value} ${String(value)}`;
}

/** Date's range: ±8.64e15 ms around the epoch. */
const MAX_DATE_MS = 8.64e15;

/**
 * add()'s options, checked before anything is registered: a ConfigError (never a TypeError, a
 * task with null times or a key that collides with another task's) for an id or namespace that
 * is no non-empty string or holds NUL, a cgroup that is no path, `{ pid }` or TaskCgroup, and a
 * startTime that is no valid Date or finite number of ms.
 */
export function checkAddOptions(options: AddTaskOptions): CheckedTask {
  if (options === null || typeof options !== 'object') throw new ConfigError(`add() takes an options object, got ${describe(options)}`);
  const id = checkName(options.id, 'id');
  const namespace = checkName(options.namespace ?? 'default', 'namespace');
  const c: unknown = options.cgroup;
  const isPid = typeof c === 'object' && c !== null && 'pid' in c;
  if (isPid) {
    const pid = (c as { pid: unknown }).pid;
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0)
      throw new ConfigError(`task cgroup { pid } needs a positive integer pid, got ${describe(pid)}`);
  } else if (typeof c !== 'string' && !(typeof c === 'object' && c !== null && 'version' in c))
    throw new ConfigError(`task ${namespace}/${id}: cgroup must be a path, { pid } or a TaskCgroup, got ${describe(c)}`);
  const s: unknown = options.startTime;
  let startTimeMs: number;
  if (s === undefined) startTimeMs = Date.now();
  else if (s instanceof Date || typeof s === 'number') startTimeMs = +s;
  else startTimeMs = Number.NaN;
  if (!Number.isFinite(startTimeMs) || Math.abs(startTimeMs) > MAX_DATE_MS)
    throw new ConfigError(`task ${namespace}/${id}: startTime must be a valid Date or ms since the epoch, got ${describe(s)}`);
  return { id, namespace, startTimeMs };
}
