import { ConfigError } from '../errors.ts';
import { ALL_GROUPS, type MetricGroup } from './types.ts';

function isMetricGroup(name: string): name is MetricGroup {
  return (ALL_GROUPS as readonly string[]).includes(name);
}

/** Checks group names (from a flag, or a library caller's option): an unknown one is a ConfigError listing the known ones. */
export function metricGroups(names: readonly string[]): MetricGroup[] {
  for (const g of names) if (!isMetricGroup(g)) throw new ConfigError(`unknown metric group ${JSON.stringify(g)}; known: ${ALL_GROUPS.join(', ')}`);
  return names as MetricGroup[];
}
