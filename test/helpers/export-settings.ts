import type { ExporterSettings } from '../../src/export/settings.ts';
import { V2 } from '../metrics/helpers.ts';

/** Exporter settings for in-process endpoint tests: Prometheus on a free port, pushes that never fire on their own. */
export const TEST_SETTINGS: ExporterSettings = {
  prometheus: { host: '127.0.0.1', port: 0, path: '/metrics', unitSuffixes: true, finalHoldMs: 0 },
  otlp: { protocol: 'http/protobuf' },
  intervalMs: 60_000,
  exportTimeoutMs: 30_000,
};

/** The loaded cgroup2 fixture as a TaskCgroup. */
export const V2_CGROUP = { version: 2, path: '/', dir: V2.loaded } as const;
