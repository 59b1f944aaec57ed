import { parseArgs } from 'node:util';
import { DEFAULT_LAYOUTS, layoutsFrom } from '../discovery/layouts.ts';
import { Discovery } from '../discovery/watcher.ts';
import { resolveExportConfig, type ExportFlags } from '../export/config.ts';
import { startExportPipeline, type ExportPipeline } from '../export/pipeline.ts';
import { agentResource } from '../export/resource.ts';
import { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { withConfigFile } from './config-file.ts';
import { ENGINE_HELP, ENGINE_OPTIONS, addTasks, engineOptions, type EngineFlags } from './engine-flags.ts';
import { UsageError } from './usage-error.ts';

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
} as const;

export const DISCOVERY_OPTIONS = {
  'no-discovery': { type: 'boolean' },
  layouts: { type: 'string' },
  'layout-pattern': { type: 'string', multiple: true },
  'rescan-interval': { type: 'string' },
  'empty-poll-interval': { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
} as const;

export const AGENT_HELP = `Usage: otel-cgroup-metrics [options]
       otel-cgroup-metrics stats CGROUP [--root DIR] [--json]      (see stats --help)
       otel-cgroup-metrics collect [options] [--format prometheus|json]

Runs the agent: reads the tasks' cgroups at every collection and exports them. When a task's
cgroup disappears, or on SIGTERM/SIGINT, its last reading is queued and delivered to every
exporter before its series go away; shutdown pushes what is pending.

Exporters (flags win over the OTEL_* variables):
  --exporter LIST            prometheus, otlp, console, none, comma-separated
                             [OTEL_METRICS_EXPORTER; default prometheus]
  --prometheus-host HOST     [OTEL_EXPORTER_PROMETHEUS_HOST; default localhost; 0.0.0.0 for all]
  --prometheus-port PORT     [OTEL_EXPORTER_PROMETHEUS_PORT; default 9464]
  --prometheus-path PATH     default /metrics
  --no-unit-suffixes         container_cpu_time_total instead of container_cpu_time_seconds_total
  --prometheus-final-hold MS keep each final reading on the page this long after its first scrape
                             (default 0: exactly once). Set it to a scrape interval or more when
                             several servers scrape the agent (an HA pair): each scrape is one reader
  --otlp-endpoint URL        full metrics URL, e.g. http://collector:4318/v1/metrics
                             [OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics;
                             default http://localhost:4318/v1/metrics]
  --otlp-protocol P          http/protobuf or http/json
                             [OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf]
  --otlp-header K=V          repeatable [OTEL_EXPORTER_OTLP_METRICS_HEADERS, OTEL_EXPORTER_OTLP_HEADERS]
  --otlp-compression C       gzip or none [OTEL_EXPORTER_OTLP_METRICS_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION]
  --otlp-timeout MS          one request's timeout [OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT; default 10000]
  --otlp-temporality T       cumulative, delta or lowmemory
                             [OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE; default cumulative]
  --interval MS              push interval [OTEL_METRIC_EXPORT_INTERVAL; default 60000]
                             (one push may take OTEL_METRIC_EXPORT_TIMEOUT, default 30000)

Discovery (on unless --no-discovery): containers are found by their cgroup layout, added when
their cgroup appears (inotify) and given their final reading when cgroup.events says
\`populated 0\` (cgroup v2, and the cgroup2 mirror runc makes on hybrid hosts) or, on a pure v1
host, when cgroup.procs turns empty.
  --no-discovery             only the --task tasks
  --layouts LIST             default ${DEFAULT_LAYOUTS.join(',')}; also systemd (system.slice/*.service)
  --layout-pattern REGEX     a custom layout (repeatable): a regular expression over the cgroup path with
                             named groups id and optionally namespace, e.g. '^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$'
  --rescan-interval MS       full rescan, the backstop for missed events (default 10000)
  --empty-poll-interval MS   pure v1 hosts: how often cgroup.procs is checked (default 1000)
  -v, --verbose              log every task added and stopped

Configuration file:
  --config FILE              a JSON object of these flags, keys without --, e.g.
                             {"layouts": "containerd,docker", "layout-pattern": ["^/jobs/(?<id>[^/]+)$"],
                              "prometheus-port": 9464, "verbose": true}; flags given here win

Resource: service.name from OTEL_SERVICE_NAME (default otel-cgroup-metrics), host.name, and
OTEL_RESOURCE_ATTRIBUTES.

${ENGINE_HELP}
Exit codes: 0 after a clean shutdown, 1 runtime error (unreadable root, missing cgroup, port in
use), 2 usage error (bad flag, unknown exporter).
`;

type AgentFlags = EngineFlags &
  ExportFlags & {
    help?: boolean;
    'no-discovery'?: boolean;
    layouts?: string;
    'layout-pattern'?: string[];
    'rescan-interval'?: string;
    'empty-poll-interval'?: string;
    verbose?: boolean;
  };

function positiveMs(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer (ms), got ${JSON.stringify(v)}`);
  return n;
}

function log(line: string): void {
  process.stderr.write(`otel-cgroup-metrics: ${line}\n`);
}

/** The agent: runs until SIGTERM/SIGINT; resolves with the exit code. */
export async function agentCommand(argv: string[]): Promise<number> {
  const options = { ...ENGINE_OPTIONS, ...EXPORT_OPTIONS, ...DISCOVERY_OPTIONS, config: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;
  const { values } = parseArgs({ args: argv, options, allowPositionals: false });
  if (values.help) {
    process.stdout.write(AGENT_HELP);
    return 0;
  }
  const flags = (values.config === undefined ? values : withConfigFile(values, values.config, options, ['config', 'help'])) as AgentFlags;
  // Everything that can be refused is checked before anything starts.
  const config = resolveExportConfig(flags);
  const engine = new CgroupMetrics({ ...engineOptions(flags), onGone: 'stop' });
  const layouts = flags['no-discovery'] ? [] : layoutsFrom(flags.layouts === undefined ? DEFAULT_LAYOUTS : flags.layouts.split(',').map((l) => l.trim()).filter(Boolean), flags['layout-pattern'] ?? []);
  const rescanIntervalMs = positiveMs(flags['rescan-interval'], '--rescan-interval');
  const emptyPollMs = positiveMs(flags['empty-poll-interval'], '--empty-poll-interval');
  addTasks(engine, flags.task ?? []);
  const pipeline: ExportPipeline = await startExportPipeline(engine, config, agentResource(), log);

  let discovery: Discovery | undefined;
  if (layouts.length > 0) {
    discovery = new Discovery(engine, {
      layouts,
      ...(rescanIntervalMs ? { rescanIntervalMs } : {}),
      ...(emptyPollMs ? { emptyPollMs } : {}),
      onEvent: (e) => {
        if (e.type === 'error') log(`discovery: ${e.path}: ${e.message}`);
        else if (flags.verbose && e.type === 'added') log(`task ${e.task.namespace}/${e.task.id} added (${e.task.layout}, ${e.path})`);
        else if (flags.verbose && e.type === 'stopped') log(`task ${e.task.namespace}/${e.task.id} stopped (${e.trigger}): final reading ${e.result.source}`);
      },
    });
    discovery.start();
    log(`discovering ${layouts.map((l) => l.name).join(', ')} tasks on a ${engine.mounts.mode} cgroup host: ${discovery.taskCount} found, ${discovery.watchCount} watches; cgroup.events by ${discovery.eventsMechanism}`);
    // inotify on cgroup.events can arrive after the runtime's rmdir: a few short tasks lose their final reading.
    if (discovery.eventsMechanism === 'inotify' && engine.mounts.mode !== 'v1') log('warning: the optional `epoll` addon is not built (it needs python3, make and g++ at npm install); cgroup.events changes come by inotify, which can lag behind the removal of short-lived containers');
  }
  if (engine.size === 0 && !discovery) log('no task given (--task NAMESPACE/ID=CGROUP) and discovery is off: serving self-observability metrics only');
  else if (flags.task?.length) log(`collecting ${flags.task.length} --task task(s) on a ${engine.mounts.mode} cgroup host`);
  if (pipeline.prometheus) log(`Prometheus metrics at ${pipeline.prometheus.url}`);
  if (config.exporters.includes('otlp')) log(`pushing OTLP (${config.otlp.protocol}) every ${config.intervalMs} ms to ${config.otlp.endpoint ?? process.env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318'}`);
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
