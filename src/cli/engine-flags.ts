import { ConfigError } from '../errors.ts';
import type { AddTaskOptions, CgroupMetrics, CgroupMetricsOptions } from '../metrics/cgroup-metrics.ts';
import { parseGroups } from './stats-command.ts';
import { UsageError, parseCgroupArg } from './usage-error.ts';

/** Flags shared by the agent and `collect`: which tasks, which cgroup root, which groups. */
export const ENGINE_OPTIONS = {
  task: { type: 'string', multiple: true },
  root: { type: 'string' },
  groups: { type: 'string' },
  'collect-timeout': { type: 'string' },
  'max-pending': { type: 'string' },
} as const;

export const ENGINE_HELP = `Tasks and cgroups:
  --task NAMESPACE/ID=CGROUP  a task to collect (repeatable); CGROUP is a path relative to the
                              hierarchy roots (/default/job1) or pid:N
  --root DIR                  a cgroup2 directory or a v1 tree to use instead of the host's mounts
  --groups LIST               metric groups (default cpu,memory,disk,pids,pressure,uptime;
                              also cpu.percpu, hugetlb)
  --collect-timeout MS        deadline of one collection (default 5000)
  --max-pending N             bound of the final-readings queue (default 10000)
`;

export interface EngineFlags {
  task?: string[];
  root?: string;
  groups?: string;
  'collect-timeout'?: string;
  'max-pending'?: string;
}

function positive(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

export function engineOptions(flags: EngineFlags): CgroupMetricsOptions {
  const o: CgroupMetricsOptions = { groups: flags.groups === undefined ? undefined : parseGroups(flags.groups) };
  if (o.groups === undefined) delete o.groups;
  if (flags.root !== undefined) o.root = flags.root;
  if (flags['collect-timeout'] !== undefined) o.collectTimeoutMs = positive(flags['collect-timeout'], '--collect-timeout');
  if (flags['max-pending'] !== undefined) o.maxPendingFinalReadings = positive(flags['max-pending'], '--max-pending');
  return o;
}

/** `NAMESPACE/ID=CGROUP` → add() options. */
export function parseTaskFlag(spec: string): AddTaskOptions {
  const eq = spec.indexOf('=');
  const slash = spec.indexOf('/');
  if (eq < 0 || slash <= 0 || slash > eq || slash === eq - 1) throw new UsageError(`--task ${JSON.stringify(spec)}: expected NAMESPACE/ID=CGROUP, e.g. default/job1=/default/job1 or default/web=pid:1234`);
  const cgroup = spec.slice(eq + 1);
  if (cgroup === '') throw new UsageError(`--task ${JSON.stringify(spec)}: empty CGROUP`);
  return { namespace: spec.slice(0, slash), id: spec.slice(slash + 1, eq), cgroup: parseCgroupArg(cgroup) };
}

/** Resolves the mounts (an unreadable root fails here) and adds every --task. */
export function addTasks(engine: CgroupMetrics, specs: readonly string[]): void {
  const parsed = specs.map(parseTaskFlag);
  void engine.mounts;
  for (const t of parsed) {
    if (engine.has(t.id, t.namespace)) throw new ConfigError(`--task ${t.namespace}/${t.id} is given twice`);
    engine.add(t);
  }
}
