import { ConsoleMetricExporter } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { createPushReader } from './push-reader.ts';
import type { ExporterSettings } from './settings.ts';

/** `--exporter console`: every push printed to stdout by the SDK's ConsoleMetricExporter. */
export const consoleExporter = {
  name: 'console',
  start: async (engine: CgroupMetrics, settings: ExporterSettings) => ({
    reader: createPushReader(engine, new ConsoleMetricExporter(), settings.intervalMs, settings.exportTimeoutMs),
  }),
} as const;
