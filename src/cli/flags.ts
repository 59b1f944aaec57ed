/**
 * Every command-line flag, declared once: the parseArgs option tables, and the flag types
 * derived from them. Also the keys a `--config` file may hold (the agent's long flags).
 */

/** A parseArgs option table. */
export type OptionTable = Readonly<Record<string, { readonly type: 'string' | 'boolean'; readonly multiple?: boolean; readonly short?: string }>>;

/** The value parseArgs gives for one option: a boolean switch, a repeatable string, or a string. */
type FlagValue<O> = O extends { readonly type: 'boolean' } ? boolean : O extends { readonly multiple: true } ? string[] : string;

/** The parsed flags of a table: every flag optional (absent when not given). */
export type FlagValues<T extends OptionTable> = { -readonly [K in keyof T]?: FlagValue<T[K]> };

/** Flags shared by the agent and `collect`: which tasks, which cgroup root, which groups. */
export const ENGINE_OPTIONS = {
  task: { type: 'string', multiple: true },
  'task-attribute': { type: 'string', multiple: true },
  root: { type: 'string' },
  groups: { type: 'string' },
  'collect-timeout': { type: 'string' },
  'max-pending': { type: 'string' },
} as const;

/** The agent's exporter flags; they win over the OTEL_* variables. */
export const EXPORT_OPTIONS = {
  exporter: { type: 'string' },
  'prometheus-host': { type: 'string' },
  'prometheus-port': { type: 'string' },
  'prometheus-path': { type: 'string' },
  'no-unit-suffixes': { type: 'boolean' },
  'prometheus-final-hold': { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'otlp-protocol': { type: 'string' },
  'otlp-header': { type: 'string', multiple: true },
  'otlp-compression': { type: 'string' },
  'otlp-timeout': { type: 'string' },
  'otlp-temporality': { type: 'string' },
  interval: { type: 'string' },
  'shutdown-timeout': { type: 'string' },
} as const;

/** The agent's discovery flags. */
export const DISCOVERY_OPTIONS = {
  'no-discovery': { type: 'boolean' },
  layouts: { type: 'string' },
  'layout-pattern': { type: 'string', multiple: true },
  'rescan-interval': { type: 'string' },
  'empty-poll-interval': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

/** The agent's flags for naming containers from their runtimes' APIs. */
export const METADATA_OPTIONS = {
  'metadata-sources': { type: 'string' },
  'runtime-socket': { type: 'string', multiple: true },
  'container-label': { type: 'string', multiple: true },
  'keep-sandboxes': { type: 'boolean' },
  'metadata-timeout': { type: 'string' },
} as const;

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

export const AGENT_OPTIONS = {
  ...ENGINE_OPTIONS,
  ...EXPORT_OPTIONS,
  ...DISCOVERY_OPTIONS,
  ...METADATA_OPTIONS,
  config: { type: 'string' },
  ...HELP_OPTION,
} as const;

/** Agent flags a `--config` file may not hold. */
export const NOT_IN_CONFIG_FILE: readonly (keyof typeof AGENT_OPTIONS)[] = ['config', 'help'];

export const COLLECT_OPTIONS = { ...ENGINE_OPTIONS, format: { type: 'string' }, 'no-unit-suffixes': { type: 'boolean' }, ...HELP_OPTION } as const;

export const STATS_OPTIONS = { root: { type: 'string' }, json: { type: 'boolean' }, groups: { type: 'string' }, ...HELP_OPTION } as const;

export type EngineFlags = FlagValues<typeof ENGINE_OPTIONS>;
export type ExportFlags = FlagValues<typeof EXPORT_OPTIONS>;
export type MetadataFlags = FlagValues<typeof METADATA_OPTIONS>;
