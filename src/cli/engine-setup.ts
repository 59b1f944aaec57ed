import { metricGroups } from '../cgroup/metric-groups.ts';
import { ConfigError } from '../errors.ts';
import { integerSetting } from '../integer-setting.ts';
import type { AddTaskOptions, CgroupMetrics, CgroupMetricsOptions } from '../metrics/cgroup-metrics.ts';
import { parseTaskFlag, splitList } from './arguments.ts';
import type { EngineFlags } from './flags.ts';

/** The engine's options from the engine flags; what is not given keeps the engine's default. */
export function engineOptions(flags: EngineFlags): CgroupMetricsOptions {
  const o: CgroupMetricsOptions = {};
  if (flags.groups !== undefined) o.groups = metricGroups(splitList(flags.groups));
  if (flags.root !== undefined) o.root = flags.root;
  if (flags['collect-timeout'] !== undefined) o.collectTimeoutMs = integerSetting(flags['collect-timeout'], '--collect-timeout', { min: 1 });
  if (flags['max-pending'] !== undefined) o.maxPendingFinalReadings = integerSetting(flags['max-pending'], '--max-pending', { min: 1 });
  return o;
}

/** Parses every --task (usage errors, duplicates) before anything is made. */
export function parseTasks(specs: readonly string[]): AddTaskOptions[] {
  const parsed = specs.map(parseTaskFlag);
  const seen = new Set<string>();
  for (const t of parsed) {
    const key = `${t.namespace}/${t.id}`;
    if (seen.has(key)) throw new ConfigError(`--task ${key} is given twice`);
    seen.add(key);
  }
  return parsed;
}

/** Adds the parsed tasks (resolving each cgroup can still fail: CgroupNotFoundError, PathOutsideMountError). */
export function addTasks(engine: CgroupMetrics, tasks: readonly AddTaskOptions[]): void {
  for (const t of tasks) engine.add(t);
}
