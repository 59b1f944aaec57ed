import { LabelAllowList } from '../discovery/metadata/labels.ts';
import { MetadataLookups } from '../discovery/metadata/lookups.ts';
import { METADATA_SOURCES } from '../discovery/metadata/registry.ts';
import type { LookupTask, MetadataSource, MetadataSourceDefinition } from '../discovery/metadata/source.ts';
import { ConfigError } from '../errors.ts';
import { durationSetting } from '../integer-setting.ts';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { splitList } from './arguments.ts';
import type { MetadataFlags } from './flags.ts';

/** The metadata settings, checked before anything starts. */
export interface MetadataSettings {
  /** The sources in use with their endpoints; empty when `--metadata-sources none`. */
  sources: Array<{ definition: MetadataSourceDefinition; endpoint: string }>;
  labels: LabelAllowList;
  keepSandboxes: boolean;
  timeoutMs: number | undefined;
}

const byName = new Map(METADATA_SOURCES.map((d) => [d.name, d]));
const NAMES = METADATA_SOURCES.map((d) => d.name).join(', ');

function definitionOf(name: string, what: string): MetadataSourceDefinition {
  const d = byName.get(name);
  if (!d) throw new ConfigError(`${what}: unknown metadata source ${JSON.stringify(name)}; known: ${NAMES}`);
  return d;
}

/** Parses the metadata flags; throws ConfigError (exit 2) for anything it cannot use. */
export function metadataSettings(flags: MetadataFlags): MetadataSettings {
  const list = flags['metadata-sources'] === undefined ? METADATA_SOURCES.map((d) => d.name) : splitList(flags['metadata-sources']);
  const none = list.length === 1 && list[0] === 'none';
  const endpoints = new Map<string, string>();
  for (const spec of flags['runtime-socket'] ?? []) {
    const eq = spec.indexOf('=');
    const path = spec.slice(eq + 1);
    if (eq <= 0 || !path.startsWith('/')) throw new ConfigError(`--runtime-socket ${JSON.stringify(spec)}: expected NAME=/path/to/socket (NAME: ${NAMES})`);
    endpoints.set(definitionOf(spec.slice(0, eq), '--runtime-socket').name, path);
  }
  const sources = none
    ? []
    : list
        .map((n) => definitionOf(n, '--metadata-sources'))
        .map((definition) => ({ definition, endpoint: endpoints.get(definition.name) ?? definition.defaultEndpoint }));
  const labels = new LabelAllowList((flags['container-label'] ?? []).flatMap(splitList));
  const timeout = flags['metadata-timeout'];
  return {
    sources,
    labels,
    keepSandboxes: flags['keep-sandboxes'] === true,
    timeoutMs: timeout === undefined ? undefined : durationSetting(timeout, '--metadata-timeout', 1, 'ms'),
  };
}

/**
 * The lookups that name the agent's discovered tasks: sandboxes are dropped from the engine (no
 * final reading), failures counted in `cgroup_metrics.metadata.errors` and logged at most once a
 * minute per source.
 */
export function startMetadataLookups(settings: MetadataSettings, engine: CgroupMetrics, log: (line: string) => void, verbose: boolean): MetadataLookups {
  const sources = new Map<string, MetadataSource>();
  for (const { definition, endpoint } of settings.sources) {
    const source = definition.create(endpoint);
    // The first source listed for a layout names its tasks.
    for (const layout of definition.layouts) if (!sources.has(layout)) sources.set(layout, source);
  }
  return new MetadataLookups({
    sources,
    labels: settings.labels,
    keepSandboxes: settings.keepSandboxes,
    ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
    onError: (source, error) => engine.countMetadataError(source, error.type),
    onSandbox: (task: LookupTask) => {
      engine.remove(task.id, task.namespace);
      if (verbose) log(`task ${task.namespace}/${task.id} is a pod sandbox: not exported (--keep-sandboxes keeps them)`);
    },
    ...(verbose ? { onNamed: (task: LookupTask, _m: unknown, ms: number) => log(`task ${task.namespace}/${task.id} named in ${ms.toFixed(1)} ms`) } : {}),
    log,
  });
}
