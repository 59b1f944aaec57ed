import { parseArgs } from 'node:util';
import { DEFAULT_LAYOUTS, layoutsFrom } from '../discovery/layouts.ts';
import type { MetadataLookups } from '../discovery/metadata/lookups.ts';
import { Discovery } from '../discovery/watcher.ts';
import { resolveExportConfig } from '../export/config.ts';
import { startExportPipeline, type ExportPipeline } from '../export/pipeline.ts';
import { agentResource } from '../export/resource.ts';
import { durationSetting } from '../integer-setting.ts';
import { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { RateLimitedLog } from '../rate-limited-log.ts';
import { installDiagLogger } from './agent-log.ts';
import { splitList } from './arguments.ts';
import { withConfigFile } from './config-file.ts';
import { addTasks, engineOptions, parseTasks } from './engine-setup.ts';
import { endIfStuck } from './stuck-exit.ts';
import { AGENT_OPTIONS, NOT_IN_CONFIG_FILE } from './flags.ts';
import { AGENT_HELP } from './help.ts';
import { metadataSettings, startMetadataLookups } from './metadata-setup.ts';

/** A millisecond flag's value, or undefined when it is not given. */
function milliseconds(text: string | undefined, flag: string): number | undefined {
  return text === undefined ? undefined : durationSetting(text, flag, 1, 'ms');
}

function log(line: string): void {
  process.stderr.write(`otel-cgroup-metrics: ${line}\n`);
}

/** Exit code of a shutdown that left final readings undelivered (the last push failed, or the deadline came first). */
export const EXIT_UNDELIVERED = 3;

/** The shutdown's own deadline when --shutdown-timeout is not given, ms. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** The signals that stop the agent: each takes every task's final reading and flushes (SIGHUP too: there is no reload). */
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/** Error codes of watches that fail for lack of file descriptors or inotify watches: said at most once a minute each. */
const RESOURCE_CODES = new Set(['EMFILE', 'ENFILE', 'ENOSPC', 'ENOMEM']);

/**
 * The agent: runs until SIGTERM, SIGINT or SIGHUP; resolves with the exit code: 0 when every
 * final reading was delivered, EXIT_UNDELIVERED when not.
 */
export async function agentCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: AGENT_OPTIONS, allowPositionals: false });
  if (values.help) {
    process.stdout.write(AGENT_HELP);
    return 0;
  }
  // The spec's boolean: "true" in any case. The SDK disabled, the agent has nothing to do.
  if (process.env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    log('OTEL_SDK_DISABLED=true: the OpenTelemetry SDK is disabled; exiting without collecting, serving or pushing');
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
  const shutdownTimeoutMs = milliseconds(flags['shutdown-timeout'], '--shutdown-timeout') ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  // What the OpenTelemetry SDK reports only to its diagnostic logger (an export that timed out) is logged too.
  installDiagLogger(log);
  const limited = new RateLimitedLog(log);
  // Then what needs the host: the mounts (an unusable --root fails here), each task's cgroup.
  const engine = new CgroupMetrics({ ...options, onGone: 'stop' });
  addTasks(engine, tasks);
  const pipeline: ExportPipeline = await startExportPipeline(engine, config, agentResource(), log);

  let discovery: Discovery | undefined;
  let lookups: MetadataLookups | undefined;
  // The signals are heard from here on, before the first line says the agent runs.
  const exitCode = new Promise<number>((resolve) => {
    // The push readers' timers are unref'd and an OTLP-only (or `none`) agent has no server:
    // without a handle of its own the event loop would empty and Node exit with code 13.
    const keepAlive = setInterval(() => {}, 1 << 30);
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log(`${signal} again: exiting without flushing`);
        endIfStuck(engine, log);
        process.exit(1);
      }
      stopping = true;
      const since = Date.now();
      const deadline = since + shutdownTimeoutMs;
      log(`${signal}: taking final readings and flushing (deadline ${shutdownTimeoutMs} ms)`);
      void (async () => {
        discovery?.close();
        lookups?.close();
        const registered = engine.size;
        // Final reads are bounded by the collection timeout, the whole shutdown by its deadline.
        const stops = engine.stopAll();
        const stopped = await Promise.race([stops, new Promise<undefined>((r) => setTimeout(() => r(undefined), Math.max(0, deadline - Date.now())).unref())]);
        const report = await pipeline.shutdown({ timeoutMs: Math.max(0, deadline - Date.now()), since });
        const taken = stopped ? stopped.filter((r) => r.source !== 'none').length : registered;
        const reasons = [...(stopped ? [] : ['the final reads were not done by the shutdown deadline']), ...report.failures];
        const tasks = stopped ? stopped.length : registered;
        clearInterval(keepAlive);
        await engine.close();
        if (reasons.length === 0) {
          const pushes = config.exporters.some((e) => e !== 'prometheus');
          log(
            pushes
              ? `stopped ${tasks} task(s); every final reading delivered`
              : `stopped ${tasks} task(s); nothing to push${config.exporters.includes('prometheus') ? ' (final readings not scraped by now are not delivered: the endpoint is closed)' : ''}`,
          );
          endIfStuck(engine, log);
          resolve(0);
        } else {
          log(`${taken} final reading(s) not delivered: ${reasons.join('; ')}`);
          endIfStuck(engine, log);
          resolve(EXIT_UNDELIVERED);
        }
      })();
    };
    // A second signal while flushing forces the exit.
    for (const sig of STOP_SIGNALS) process.on(sig, onSignal);
  });
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
        if (e.type === 'error' && e.code !== undefined && RESOURCE_CODES.has(e.code))
          limited.say(
            `discovery:${e.code}`,
            `discovery: ${e.path}: ${e.message}${e.code === 'EMFILE' || e.code === 'ENFILE' ? ' (out of file descriptors: raise the limit, e.g. ulimit -n or LimitNOFILE=; scrapes of the endpoint may be refused too)' : ''}`,
          );
        else if (e.type === 'error') log(`discovery: ${e.path}: ${e.message}`);
        else if (flags.verbose && e.type === 'added') log(`task ${e.task.namespace}/${e.task.id} added (${e.task.layout}, ${e.path})`);
        else if (flags.verbose && e.type === 'stopped')
          log(
            `task ${e.task.namespace}/${e.task.id} stopped (${e.trigger}): final reading ${e.result.source}${e.result.lastKnown ? ` (${e.result.lastKnown})` : ''}${e.captured ? ` (read by the events thread in ${(e.captured.doneMs - e.captured.wakeMs).toFixed(2)} ms)` : ''}`,
          );
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
        `warning: the native events thread is not in use (${discovery.eventsStatus}); cgroup.events changes come by inotify, which can lag behind the removal of short-lived containers`,
      );
  }
  if (engine.size === 0 && !discovery) log('no task given (--task NAMESPACE/ID=CGROUP) and discovery is off: serving self-observability metrics only');
  else if (flags.task?.length) log(`collecting ${flags.task.length} --task task(s) on a ${engine.mounts.mode} cgroup host`);
  if (pipeline.prometheus) log(`Prometheus metrics at ${pipeline.prometheus.url}`);
  if (config.exporters.includes('otlp'))
    log(
      `pushing OTLP (${config.otlp.protocol}) every ${config.intervalMs} ms to ${config.otlp.endpoint ?? process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? (config.otlp.protocol === 'grpc' ? 'http://localhost:4317' : 'http://localhost:4318')}`,
    );
  if (config.exporters.length === 0) log('no exporter configured (none): reading only');

  return exitCode;
}
