/** otel-cgroup-metrics: per-task cgroup v1/v2 metrics for OpenTelemetry, with final readings. */
export { CgroupMetrics, type AddTaskOptions, type CgroupMetricsOptions, type StopResult, type TaskHandle } from './metrics/cgroup-metrics.ts';
export type { TaskAnnotation } from './metrics/task.ts';
export type {
  Snapshot,
  SelfSnapshot,
  FinalReading,
  LiveReading,
  TaskView,
  TaskLifecycle,
  FinalSource,
  FinalSourceCounts,
  LastKnownSource,
  DeliveryReceipt,
} from './metrics/snapshot.ts';
export { collectDeliveries, Deliveries, type Acknowledger } from './metrics/deliveries.ts';
export type { SnapshotSource, SnapshotConsumer, ConsumerOptions } from './metrics/snapshot-source.ts';
export { CgroupMetricProducer, type ProducerOptions } from './metrics/producer.ts';
export type { ObserveHandle } from './metrics/observe.ts';
export { CATALOG, SELF_METRICS, type MetricDefinition, type MetricKind } from './metrics/catalog.ts';
export * from './errors.ts';
export { readStats, newReadState, type ReadState, type ReadOptions } from './cgroup/read.ts';
export { readCycle, type CycleOptions, type CycleResult } from './cgroup/read-cycle.ts';
export { resolveCgroup, normalizeCgroupPath, type CgroupSpec } from './cgroup/resolve.ts';
export { hostCgroupMounts, cgroupMountsFromDirectory, cgroupMountsFromMountInfo, type CgroupMounts, type CgroupMode, type Hierarchy } from './cgroup/mounts.ts';
export { FileReader } from './cgroup/file-reader.ts';
export { sysfsDeviceNames, type DeviceNames } from './cgroup/devices.ts';
export * from './cgroup/types.ts';
export {
  resolveExportConfig,
  parseExporters,
  type ExportConfig,
  type ExportFlags,
  type ExporterName,
  type OtlpProtocol,
  type TemporalityPreference,
} from './export/config.ts';
export { startExportPipeline, type ExportPipeline, type Logger } from './export/pipeline.ts';
export { startPrometheusEndpoint, type PrometheusEndpoint } from './export/prometheus.ts';
export { createOtlpExporter } from './export/otlp.ts';
export { createPushReader } from './export/push-reader.ts';
export { prometheusNamingProducer, withUnitSuffix, unitSuffix } from './export/prometheus-naming.ts';
export { agentResource } from './export/resource.ts';
export { catalogValues, cpuSeconds, type CatalogValue } from './metrics/catalog-values.ts';
export { Discovery, type DiscoveryOptions, type DiscoveryEvent } from './discovery/watcher.ts';
export { layoutsFrom, customLayout, DEFAULT_LAYOUTS, type Layout, type LayoutName, type DiscoveredTask } from './discovery/layouts.ts';
export type { EventsMechanism } from './discovery/events-watch.ts';
export { MetadataLookups, type MetadataLookupsOptions } from './discovery/metadata/lookups.ts';
export { LabelAllowList } from './discovery/metadata/labels.ts';
export { METADATA_SOURCES } from './discovery/metadata/registry.ts';
export type {
  ContainerMetadata,
  LookupTask,
  MetadataSource,
  MetadataSourceDefinition,
} from './discovery/metadata/source.ts';
