import { parseArgs } from 'node:util';
import { cgroupMountsFromDirectory, hostCgroupMounts } from '../cgroup/mounts.ts';
import { readStats } from '../cgroup/read.ts';
import { resolveCgroup } from '../cgroup/resolve.ts';
import { parseCgroupArg, parseGroups } from './arguments.ts';
import { STATS_OPTIONS } from './flags.ts';
import { STATS_HELP } from './help.ts';
import { UsageError } from './usage-error.ts';

function flatten(prefix: string, v: unknown, out: Array<[string, string]>): void {
  if (v === undefined) return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      const label =
        x && typeof x === 'object' && 'major' in x
          ? `${(x as { major: number }).major}:${(x as { minor: number }).minor}`
          : x && typeof x === 'object' && 'pageSize' in x
            ? String((x as { pageSize: string }).pageSize)
            : String(i);
      flatten(`${prefix}[${label}]`, x, out);
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'major' || k === 'minor' || k === 'pageSize') continue;
      flatten(prefix ? `${prefix}.${k}` : k, x, out);
    }
  } else out.push([prefix, String(v)]);
}

/** `otel-cgroup-metrics stats`: returns the exit code. */
export function statsCommand(argv: string[], out: (s: string) => void): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: STATS_OPTIONS,
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
    out(`${JSON.stringify({ mode: mounts.mode, cgroup, stats: result.stats, errors: result.errors, gone: result.gone }, null, 2)}\n`);
  } else {
    const rows: Array<[string, string]> = [];
    flatten('', result.stats, rows);
    const width = Math.max(...rows.map((r) => r[0].length), 5);
    const dirs =
      cgroup.version === 2
        ? cgroup.dir
        : Object.values(cgroup.dirs)
            .concat(cgroup.unified ?? [])
            .join(' ');
    let text = `cgroup ${cgroup.path} (cgroup v${cgroup.version}, ${mounts.mode} host): ${dirs}\n`;
    for (const [k, v] of rows) text += `${k.padEnd(width)}  ${v}\n`;
    for (const e of result.errors) text += `error ${e.type}: ${e.message}\n`;
    if (result.gone) text += 'the cgroup was removed during the read\n';
    out(text);
  }
  return result.gone ? 1 : 0;
}
