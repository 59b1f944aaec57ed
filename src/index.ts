/** otel-cgroup-metrics: per-task cgroup v1/v2 metrics for OpenTelemetry, with final readings. */
export { CgroupMetrics, type AddTaskOptions, type CgroupMetricsOptions, type Snapshot, type StopResult } from './metrics/cgroup-metrics.ts';
export { CgroupMetricProducer, type ProducerOptions } from './metrics/producer.ts';
export type { ObserveHandle } from './metrics/observe.ts';
export { CATALOG, SELF_METRICS, type MetricDefinition, type MetricKind } from './metrics/catalog.ts';
export type { FinalSource } from './metrics/task.ts';
export * from './errors.ts';
export { readStats, newReadState, type ReadState } from './cgroup/read.ts';
export { readCycle, type CycleOptions, type CycleResult } from './cgroup/read-cycle.ts';
export { resolveCgroup, normalizeCgroupPath, type CgroupSpec } from './cgroup/resolve.ts';
export { hostCgroupMounts, cgroupMountsFromDirectory, cgroupMountsFromMountInfo, type CgroupMounts, type CgroupMode, type Hierarchy } from './cgroup/mounts.ts';
export { FileReader } from './cgroup/file-reader.ts';
export * from './cgroup/types.ts';
export { resolveExportConfig, parseExporters, type ExportConfig, type ExportFlags, type ExporterName, type OtlpProtocol, type TemporalityPreference } from './export/config.ts';
export { startExportPipeline, type ExportPipeline, type Logger } from './export/pipeline.ts';
export { startPrometheusEndpoint, EndpointStartError, type PrometheusEndpoint } from './export/prometheus.ts';
export { createOtlpExporter, createPushReader } from './export/otlp.ts';
export { prometheusNamingProducer, withUnitSuffix, unitSuffix } from './export/prometheus-naming.ts';
export { agentResource } from './export/resource.ts';
