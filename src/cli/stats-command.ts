import { parseArgs } from 'node:util';
import { cgroupMountsFromDirectory, hostCgroupMounts } from '../cgroup/mounts.ts';
import { readStats } from '../cgroup/read.ts';
import { resolveCgroup } from '../cgroup/resolve.ts';
import { ALL_GROUPS, type MetricGroup } from '../cgroup/types.ts';
import { UsageError, parseCgroupArg } from './usage-error.ts';

export const STATS_HELP = `Usage: otel-cgroup-metrics stats CGROUP [--root DIR] [--json] [--groups LIST]

Prints what the reader sees for one cgroup: every value with the kernel's integer units
(bytes; ns for v1 CPU, µs for v2 CPU; ticks for cpuacct.stat).

  CGROUP          a cgroup path relative to each hierarchy's root (/default/task1, / for the root),
                  or pid:N for the cgroup of process N
  --root DIR      use DIR instead of the host's cgroup mounts: a cgroup2 directory, or a v1 tree
                  with one sub-directory per controller as under /sys/fs/cgroup
  --json          print JSON: {cgroup, stats, errors, gone}
  --groups LIST   comma-separated metric groups (default: all: ${ALL_GROUPS.join(',')})
`;

function flatten(prefix: string, v: unknown, out: Array<[string, string]>): void {
  if (v === undefined) return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      const label = x && typeof x === 'object' && 'major' in x ? `${(x as { major: number }).major}:${(x as { minor: number }).minor}` : x && typeof x === 'object' && 'pageSize' in x ? String((x as { pageSize: string }).pageSize) : String(i);
      flatten(`${prefix}[${label}]`, x, out);
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'major' || k === 'minor' || k === 'pageSize') continue;
      flatten(prefix ? `${prefix}.${k}` : k, x, out);
    }
  } else out.push([prefix, String(v)]);
}

export function parseGroups(list: string | undefined): MetricGroup[] {
  if (list === undefined) return [...ALL_GROUPS];
  const groups = list.split(',').map((g) => g.trim()).filter(Boolean);
  for (const g of groups) if (!(ALL_GROUPS as readonly string[]).includes(g)) throw new UsageError(`unknown metric group ${JSON.stringify(g)}; known: ${ALL_GROUPS.join(', ')}`);
  return groups as MetricGroup[];
}

/** `otel-cgroup-metrics stats`: returns the exit code. */
export function statsCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { root: { type: 'string' }, json: { type: 'boolean' }, groups: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    out(STATS_HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('stats needs exactly one CGROUP (a path such as /default/task1, or pid:N); see --help');
  const groups = new Set(parseGroups(values.groups));
  const mounts = values.root !== undefined ? cgroupMountsFromDirectory(values.root) : hostCgroupMounts();
  const cgroup = resolveCgroup(mounts, parseCgroupArg(positionals[0] as string));
  const result = readStats(cgroup, groups);
  if (values.json) {
    out(JSON.stringify({ mode: mounts.mode, cgroup, stats: result.stats, errors: result.errors, gone: result.gone }, null, 2) + '\n');
  } else {
    const rows: Array<[string, string]> = [];
    flatten('', result.stats, rows);
    const width = Math.max(...rows.map((r) => r[0].length), 5);
    const dirs = cgroup.version === 2 ? cgroup.dir : Object.values(cgroup.dirs).concat(cgroup.unified ?? []).join(' ');
    let text = `cgroup ${cgroup.path} (cgroup v${cgroup.version}, ${mounts.mode} host): ${dirs}\n`;
    for (const [k, v] of rows) text += `${k.padEnd(width)}  ${v}\n`;
    for (const e of result.errors) text += `error ${e.type}: ${e.message}\n`;
    if (result.gone) text += 'the cgroup was removed during the read\n';
    out(text);
  }
  return result.gone ? 1 : 0;
}
