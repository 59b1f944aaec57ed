import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';

/**
 * The engine's self metrics about kept files from one collection's output:
 * `cgroup_metrics.files.open`, `cgroup_metrics.files.limit` and `cgroup_metrics.tasks.read_path`
 * by `read_path` (kept / reopen). The budget is the process's (shared by its engines) unless
 * the engine was given maxOpenFiles.
 */
export interface KeptFilesSelf {
  filesOpen: number | undefined;
  filesLimit: number | undefined;
  readPath: Record<string, number>;
}

export function keptFilesSelf(rm: ResourceMetrics): KeptFilesSelf {
  const out: KeptFilesSelf = { filesOpen: undefined, filesLimit: undefined, readPath: {} };
  for (const scope of rm.scopeMetrics) {
    for (const m of scope.metrics) {
      const name = m.descriptor.name.replace(/_/g, '.');
      if (name === 'cgroup.metrics.files.open') out.filesOpen = Number(m.dataPoints[0]?.value);
      else if (name === 'cgroup.metrics.files.limit') out.filesLimit = Number(m.dataPoints[0]?.value);
      else if (name === 'cgroup.metrics.tasks.read.path') for (const dp of m.dataPoints) out.readPath[String(dp.attributes.read_path)] = Number(dp.value);
    }
  }
  return out;
}
