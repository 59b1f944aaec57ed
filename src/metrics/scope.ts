import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
/** The package version, for the instrumentation scope. */
export const VERSION: string = (require('../../package.json') as { version: string }).version;

/** The instrumentation scope of every metric we export. */
export const SCOPE = { name: 'otel-cgroup-metrics', version: VERSION } as const;
