import { metricGroups } from '../cgroup/metric-groups.ts';
import { ALL_GROUPS, type MetricGroup } from '../cgroup/types.ts';
import type { AddTaskOptions } from '../metrics/cgroup-metrics.ts';
import { UsageError } from './usage-error.ts';

/** A comma-separated list flag's items, trimmed, empty items dropped. */
export function splitList(list: string): string[] {
  return list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** `--groups LIST` (all groups when not given). */
export function parseGroups(list: string | undefined): MetricGroup[] {
  return list === undefined ? [...ALL_GROUPS] : metricGroups(splitList(list));
}

/** A CGROUP argument, `pid:N` or a path, into the form resolveCgroup takes. */
export function parseCgroupArg(arg: string): string | { pid: number } {
  if (arg.startsWith('pid:')) {
    const pid = Number(arg.slice(4));
    if (!Number.isInteger(pid) || pid <= 0) throw new UsageError(`bad cgroup ${JSON.stringify(arg)}: pid:N needs a positive integer pid`);
    return { pid };
  }
  return arg;
}

/** `--task NAMESPACE/ID=CGROUP` → add() options. */
export function parseTaskFlag(spec: string): AddTaskOptions {
  const eq = spec.indexOf('=');
  const slash = spec.indexOf('/');
  if (eq < 0 || slash <= 0 || slash > eq || slash === eq - 1)
    throw new UsageError(`--task ${JSON.stringify(spec)}: expected NAMESPACE/ID=CGROUP, e.g. default/job1=/default/job1 or default/web=pid:1234`);
  const cgroup = spec.slice(eq + 1);
  if (cgroup === '') throw new UsageError(`--task ${JSON.stringify(spec)}: empty CGROUP`);
  return { namespace: spec.slice(0, slash), id: spec.slice(slash + 1, eq), cgroup: parseCgroupArg(cgroup) };
}
