import { parseArgs } from 'node:util';
import { DEFAULT_LAYOUTS, layoutsFrom } from '../discovery/layouts.ts';
import type { MetadataLookups } from '../discovery/metadata/lookups.ts';
import { Discovery } from '../discovery/watcher.ts';
import { resolveExportConfig } from '../export/config.ts';
import { startExportPipeline, type ExportPipeline } from '../export/pipeline.ts';
import { agentResource } from '../export/resource.ts';
import { integerSetting } from '../integer-setting.ts';
import { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { splitList } from './arguments.ts';
import { withConfigFile } from './config-file.ts';
import { addTasks, engineOptions, parseTasks } from './engine-setup.ts';
import { AGENT_OPTIONS, NOT_IN_CONFIG_FILE } from './flags.ts';
import { AGENT_HELP } from './help.ts';
import { metadataSettings, startMetadataLookups } from './metadata-setup.ts';

/** A millisecond flag's value, or undefined when it is not given. */
function milliseconds(text: string | undefined, flag: string): number | undefined {
  return text === undefined ? undefined : integerSetting(text, flag, { min: 1, unit: 'ms' });
}

function log(line: string): void {
  process.stderr.write(`otel-cgroup-metrics: ${line}\n`);
}

/** The agent: runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: AGENT_OPTIONS, allowPositionals: false });
  if (values.help) {
    process.stdout.write(AGENT_HELP);
    return 0;
  }
  const flags = values.config === undefined ? values : withConfigFile(values, values.config, AGENT_OPTIONS, NOT_IN_CONFIG_FILE);
  // Everything that can be refused is checked before anything starts.
  const config = resolveExportConfig(flags);
  const options = engineOptions(flags);
  const tasks = parseTasks(flags.task ?? [], flags['task-attribute'] ?? []);
  const layouts = flags['no-discovery']
    ? []
    : layoutsFrom(flags.layouts === undefined ? DEFAULT_LAYOUTS : splitList(flags.layouts), flags['layout-pattern'] ?? []);
  const rescanIntervalMs = milliseconds(flags['rescan-interval'], '--rescan-interval');
  const emptyPollMs = milliseconds(flags['empty-poll-interval'], '--empty-poll-interval');
  const metadata = metadataSettings(flags);
  // Then what needs the host: the mounts (an unusable --root fails here), each task's cgroup.
  const engine = new CgroupMetrics({ ...options, onGone: 'stop' });
  addTasks(engine, tasks);
  const pipeline: ExportPipeline = await startExportPipeline(engine, config, agentResource(), log);

  let discovery: Discovery | undefined;
  let lookups: MetadataLookups | undefined;
  if (layouts.length > 0) {
    // Only the sources that name a layout in use: a docker-only agent never dials containerd.
    const inUse = new Set<string>(layouts.map((l) => l.name));
    metadata.sources = metadata.sources.filter((s) => s.definition.layouts.some((l) => inUse.has(l)));
    if (metadata.sources.length > 0) lookups = startMetadataLookups(metadata, engine, log, flags.verbose === true);
    discovery = new Discovery(engine, {
      layouts,
      ...(lookups ? { metadata: lookups } : {}),
      ...(rescanIntervalMs ? { rescanIntervalMs } : {}),
      ...(emptyPollMs ? { emptyPollMs } : {}),
      onEvent: (e) => {
        if (e.type === 'error') log(`discovery: ${e.path}: ${e.message}`);
        else if (flags.verbose && e.type === 'added') log(`task ${e.task.namespace}/${e.task.id} added (${e.task.layout}, ${e.path})`);
        else if (flags.verbose && e.type === 'stopped') log(`task ${e.task.namespace}/${e.task.id} stopped (${e.trigger}): final reading ${e.result.source}`);
      },
    });
    discovery.start();
    log(
      `discovering ${layouts.map((l) => l.name).join(', ')} tasks on a ${engine.mounts.mode} cgroup host: ${discovery.taskCount} found, ${discovery.watchCount} watches; cgroup.events by ${discovery.eventsMechanism}`,
    );
    log(
      metadata.sources.length > 0
        ? `names from ${metadata.sources.map((s) => `${s.definition.name} (${s.endpoint})`).join(', ')}${metadata.keepSandboxes ? '; sandboxes kept' : ''}`
        : 'no names from runtimes (--metadata-sources none, or no source for these layouts): series carry ids',
    );
    // inotify on cgroup.events can arrive after the runtime's rmdir: a few short tasks lose their final reading.
    if (discovery.eventsMechanism === 'inotify' && engine.mounts.mode !== 'v1')
      log(
        'warning: the optional `epoll` addon is not built (it needs python3, make and g++ at npm install); cgroup.events changes come by inotify, which can lag behind the removal of short-lived containers',
      );
  }
  if (engine.size === 0 && !discovery) log('no task given (--task NAMESPACE/ID=CGROUP) and discovery is off: serving self-observability metrics only');
  else if (flags.task?.length) log(`collecting ${flags.task.length} --task task(s) on a ${engine.mounts.mode} cgroup host`);
  if (pipeline.prometheus) log(`Prometheus metrics at ${pipeline.prometheus.url}`);
  if (config.exporters.includes('otlp'))
    log(
      `pushing OTLP (${config.otlp.protocol}) every ${config.intervalMs} ms to ${config.otlp.endpoint ?? process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318'}`,
    );
  if (config.exporters.length === 0) log('no exporter configured (none): reading only');

  return new Promise<number>((resolve) => {
    // The push readers' timers are unref'd and an OTLP-only (or `none`) agent has no server:
    // without a handle of its own the event loop would empty and Node exit with code 13.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log(`${signal} again: exiting without flushing`);
        process.exit(1);
      }
      stopping = true;
      log(`${signal}: taking final readings and flushing`);
      void (async () => {
        discovery?.close();
        lookups?.close();
        const results = await engine.stopAll();
        await pipeline.shutdown();
        log(`stopped ${results.length} task(s); flushed`);
        clearInterval(keepAlive);
        resolve(0);
      })();
    };
    // A second signal while flushing forces the exit.
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
