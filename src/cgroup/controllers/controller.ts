import type { Reading } from '../reading.ts';
import type { MetricGroup, V1Stats, V1TaskCgroup, V2Stats } from '../types.ts';

/**
 * One cgroup controller's reader: the files it needs under v1 and under v2, and how they
 * become typed stats. Each reader fills its own fields of the stats object and reads nothing
 * that the enabled groups do not need. Readers never throw (Reading collects the errors).
 */
export interface Controller {
  /** The metric groups it serves: it is called when any of them is enabled. */
  readonly groups: readonly MetricGroup[];
  /** From the task's v1 hierarchies (`cg.dirs`; `cg.unified` on a hybrid host). */
  readV1(r: Reading, cg: V1TaskCgroup, s: V1Stats, groups: ReadonlySet<MetricGroup>): void;
  /** From the task's cgroup2 directory. */
  readV2(r: Reading, dir: string, s: V2Stats, groups: ReadonlySet<MetricGroup>): void;
}
