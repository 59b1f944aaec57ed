import { metricGroups } from '../cgroup/metric-groups.ts';
import { ConfigError } from '../errors.ts';
import { durationSetting, integerSetting } from '../integer-setting.ts';
import type { AddTaskOptions, CgroupMetrics, CgroupMetricsOptions } from '../metrics/cgroup-metrics.ts';
import { parseTaskFlag, splitList } from './arguments.ts';
import { UsageError } from './usage-error.ts';
import type { EngineFlags } from './flags.ts';

/** The engine's options from the engine flags; what is not given keeps the engine's default. */
export function engineOptions(flags: EngineFlags): CgroupMetricsOptions {
  // The commands read on a thread of their own: a read the kernel blocks never holds them.
  const o: CgroupMetricsOptions = { readThread: true };
  if (flags.groups !== undefined) o.groups = metricGroups(splitList(flags.groups));
  if (flags.root !== undefined) o.root = flags.root;
  if (flags['collect-timeout'] !== undefined) o.collectTimeoutMs = durationSetting(flags['collect-timeout'], '--collect-timeout');
  if (flags['max-pending'] !== undefined) o.maxPendingFinalReadings = integerSetting(flags['max-pending'], '--max-pending', { min: 1 });
  return o;
}

/**
 * Parses every --task (usage errors, duplicates) and every --task-attribute
 * (`NAMESPACE/ID:KEY=VALUE`, for a task given by --task) before anything is made.
 */
export function parseTasks(specs: readonly string[], attributeSpecs: readonly string[] = []): AddTaskOptions[] {
  const parsed = specs.map(parseTaskFlag);
  const byKey = new Map<string, AddTaskOptions>();
  for (const t of parsed) {
    const key = `${t.namespace}/${t.id}`;
    if (byKey.has(key)) throw new ConfigError(`--task ${key} is given twice`);
    byKey.set(key, t);
  }
  for (const spec of attributeSpecs) {
    const eq = spec.indexOf('=');
    const colon = eq < 0 ? -1 : spec.lastIndexOf(':', eq);
    const attrKey = spec.slice(colon + 1, eq);
    if (colon <= 0 || attrKey === '')
      throw new UsageError(`--task-attribute ${JSON.stringify(spec)}: expected NAMESPACE/ID:KEY=VALUE, e.g. default/web:service.name=web`);
    const task = byKey.get(spec.slice(0, colon));
    if (!task) throw new ConfigError(`--task-attribute ${JSON.stringify(spec)}: no --task ${spec.slice(0, colon)}`);
    if (attrKey === 'container.id' || attrKey === 'container.namespace')
      throw new ConfigError(`--task-attribute ${JSON.stringify(spec)}: ${attrKey} is the task's own`);
    task.attributes = { ...task.attributes, [attrKey]: spec.slice(eq + 1) };
  }
  return parsed;
}

/** Adds the parsed tasks (resolving each cgroup can still fail: CgroupNotFoundError, PathOutsideMountError). */
export function addTasks(engine: CgroupMetrics, tasks: readonly AddTaskOptions[]): void {
  for (const t of tasks) engine.add(t);
}
