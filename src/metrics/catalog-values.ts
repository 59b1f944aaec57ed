import type { Attributes } from '@opentelemetry/api';
import { ALL_GROUPS, type CgroupStats, type MetricGroup } from '../cgroup/types.ts';
import { catalogFor } from './catalog.ts';

export interface CatalogValue {
  name: string;
  unit: string;
  value: number;
  /** The point's own attributes (cpu.mode, ...), without the task's. */
  attributes: Attributes;
}

/**
 * The catalog's values for one reading (a StopResult's stats, readStats' result), in OTel
 * units: what the exporters would send for it. Saves callers from the kernel's per-version
 * units (v1 ns, v2 µs, ticks): e.g. the CPU seconds of a job's final reading.
 */
export function catalogValues(stats: CgroupStats, groups: Iterable<MetricGroup> = ALL_GROUPS, startTimeMs = Date.now(), timeMs = Date.now()): CatalogValue[] {
  const out: CatalogValue[] = [];
  for (const def of catalogFor(new Set(groups))) {
    def.read(stats, (value, attributes) => out.push({ name: def.name, unit: def.unit, value, attributes: attributes ?? {} }), { startTimeMs, timeMs });
  }
  return out;
}

/** Total CPU seconds (user + system) of a reading, or undefined when it has no CPU values. */
export function cpuSeconds(stats: CgroupStats): number | undefined {
  const cpu = catalogValues(stats, ['cpu']).filter((v) => v.name === 'container.cpu.time');
  return cpu.length ? cpu.reduce((a, v) => a + v.value, 0) : undefined;
}
