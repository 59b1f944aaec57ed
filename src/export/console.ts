import { ConsoleMetricExporter } from '@opentelemetry/sdk-metrics';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { watchExports, type ExportOutcomeListener } from './export-watch.ts';
import { createPushReader } from './push-reader.ts';
import type { ExporterSettings } from './settings.ts';

/** `--exporter console`: every push printed to stdout by the SDK's ConsoleMetricExporter. */
export const consoleExporter = {
  name: 'console',
  start: async (engine: CgroupMetrics, settings: ExporterSettings, onExport?: ExportOutcomeListener) => {
    const exporter = new ConsoleMetricExporter();
    const watched = onExport ? watchExports('console', exporter, settings.exportTimeoutMs, onExport) : exporter;
    return { reader: createPushReader(engine, watched, settings.intervalMs, settings.exportTimeoutMs) };
  },
} as const;
