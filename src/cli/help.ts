import { METADATA_SOURCES } from '../discovery/metadata/registry.ts';
import { ALL_GROUPS, DEFAULT_GROUPS } from '../cgroup/types.ts';
import { DEFAULT_LAYOUTS } from '../discovery/layouts.ts';
import { EXPORTER_NAMES } from '../export/exporters.ts';

/** What `--help` prints; every flag of `flags.ts` appears in its command's text. */

export const ENGINE_HELP = `Tasks and cgroups:
  --task NAMESPACE/ID=CGROUP  a task to collect (repeatable); CGROUP is a path relative to the
                              hierarchy roots (/default/job1) or pid:N
  --task-attribute NAMESPACE/ID:KEY=VALUE
                              an attribute on every point of a --task task (repeatable),
                              e.g. default/web:service.name=web
  --root DIR                  a cgroup2 directory or a v1 tree to use instead of the host's mounts
  --groups LIST               metric groups (default ${DEFAULT_GROUPS.join(',')};
                              also ${ALL_GROUPS.filter((g) => !DEFAULT_GROUPS.includes(g)).join(', ')})
  --collect-timeout MS        deadline of one collection (default 5000)
  --max-pending N             bound of the final-readings queue (default 10000)
`;

export const AGENT_HELP = `Usage: otel-cgroup-metrics [options]
       otel-cgroup-metrics stats CGROUP [--root DIR] [--json]      (see stats --help)
       otel-cgroup-metrics collect [options] [--format prometheus|json]

Runs the agent: reads the tasks' cgroups at every collection and exports them. When a task's
cgroup disappears, or on SIGTERM, SIGINT or SIGHUP (the same: no reload), its last reading is
queued and delivered to every exporter before its series go away; shutdown pushes what is
pending, within --shutdown-timeout. A second signal exits at once.

Exporters (flags win over the OTEL_* variables):
  --exporter LIST            ${EXPORTER_NAMES.join(', ')}, none, comma-separated
                             [OTEL_METRICS_EXPORTER; default prometheus]
  --prometheus-host HOST     [OTEL_EXPORTER_PROMETHEUS_HOST; default localhost; 0.0.0.0 for all]
  --prometheus-port PORT     [OTEL_EXPORTER_PROMETHEUS_PORT; default 9464]
  --prometheus-path PATH     default /metrics
  --no-unit-suffixes         container_cpu_time_total instead of container_cpu_time_seconds_total
  --prometheus-final-hold MS keep each final reading on the page this long after its first scrape
                             (default 0: exactly once). Set it to a scrape interval or more when
                             several servers scrape the agent (an HA pair): each scrape is one reader
  --otlp-endpoint URL        HTTP: the full metrics URL, e.g. http://collector:4318/v1/metrics
                             [OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics;
                             default http://localhost:4318/v1/metrics]; gRPC: no path, e.g. http://collector:4317
                             [the same variables, as they are; default http://localhost:4317]; https:// is TLS
                             (gRPC: the system's CAs, or OTEL_EXPORTER_OTLP_CERTIFICATE, a PEM file)
  --otlp-protocol P          http/protobuf, http/json or grpc
                             [OTEL_EXPORTER_OTLP_METRICS_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL; default http/protobuf]
  --otlp-header K=V          repeatable; gRPC metadata with grpc [OTEL_EXPORTER_OTLP_METRICS_HEADERS, OTEL_EXPORTER_OTLP_HEADERS]
  --otlp-compression C       gzip or none [OTEL_EXPORTER_OTLP_METRICS_COMPRESSION, OTEL_EXPORTER_OTLP_COMPRESSION]
  --otlp-timeout MS          one request's timeout [OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, OTEL_EXPORTER_OTLP_TIMEOUT; default 10000]
  --otlp-temporality T       cumulative, delta or lowmemory
                             [OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE; default cumulative]
  --interval MS              push interval [OTEL_METRIC_EXPORT_INTERVAL; default 60000]
                             (one push may take OTEL_METRIC_EXPORT_TIMEOUT, default 30000)
  --shutdown-timeout MS      deadline of the shutdown: final readings and the last push (default 10000)
Failed pushes are logged (the first at once, then at most one line a minute per exporter) and
counted in cgroup_metrics.export.failures; OTEL_LOG_LEVEL (none, error, warn, info, debug,
verbose, all; default warn) sets what the OpenTelemetry SDK's own diagnostics log.
OTEL_SDK_DISABLED=true: the agent says so on stderr and exits 0, reading, serving and pushing nothing.

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

Names (with discovery): each container is named from its runtime's API, away from the collection
path (until the runtime answers, its series carry ids alone; failures count in
cgroup_metrics.metadata.errors). Sources and default sockets:
${METADATA_SOURCES.map((d) => `  ${d.name.padEnd(11)} ${d.defaultEndpoint}: ${d.description}`).join('\n')}
  --metadata-sources LIST    default ${METADATA_SOURCES.map((d) => d.name).join(',')}; none turns names off
  --runtime-socket NAME=PATH another socket for a source (repeatable), e.g. cri=/var/run/crio/crio.sock
  --container-label GLOBS    runtime labels to export as container.label.<key> (repeatable, comma lists,
                             * and ? globs); none by default: labels multiply series
  --keep-sandboxes           export pod sandboxes (pause, infra containers) too
  --metadata-timeout MS      one lookup's deadline (default 2000)

Configuration file:
  --config FILE              a JSON object of these flags, keys without --, e.g.
                             {"layouts": "containerd,docker", "layout-pattern": ["^/jobs/(?<id>[^/]+)$"],
                              "prometheus-port": 9464, "verbose": true}; flags given here win

Resource: service.name from OTEL_SERVICE_NAME (default otel-cgroup-metrics), host.name, and
OTEL_RESOURCE_ATTRIBUTES.

${ENGINE_HELP}
Exit codes: 0 after a clean shutdown (every final reading delivered), 1 runtime error (unreadable
root, missing cgroup, port in use) or a second signal, 2 usage error (bad flag, unknown
exporter), 3 stopped with final readings not delivered (the last push failed, or the shutdown
deadline came first).
`;

export const COLLECT_HELP = `Usage: otel-cgroup-metrics collect [--task NAMESPACE/ID=CGROUP ...] [--root DIR] [--format prometheus|json] [--no-unit-suffixes]

Prints one collection and exits: the page Prometheus would scrape (default), or the OTLP/JSON
request body an OTLP/HTTP exporter would send.

${ENGINE_HELP}`;

export const STATS_HELP = `Usage: otel-cgroup-metrics stats CGROUP [--root DIR] [--json] [--groups LIST]

Prints what the reader sees for one cgroup: every value with the kernel's integer units
(bytes; ns for v1 CPU, µs for v2 CPU; ticks for cpuacct.stat).

  CGROUP          a cgroup path relative to each hierarchy's root (/default/task1, / for the root),
                  or pid:N for the cgroup of process N
  --root DIR      use DIR instead of the host's cgroup mounts: a cgroup2 directory, or a v1 tree
                  with one sub-directory per controller as under /sys/fs/cgroup
  --json          print JSON: {cgroup, stats, errors, gone}
  --groups LIST   comma-separated metric groups (default: all: ${ALL_GROUPS.join(',')})
`;
