/**
 * A job runner: every job runs in a cgroup of its own, and its last reading, taken when it
 * exits, is still scraped from the Prometheus endpoint after the job and its cgroup are gone.
 *
 *   npm run build && sudo node --import tsx examples/job-runner.ts
 *   curl -s http://127.0.0.1:9464/metrics | grep container_cpu_time
 *
 * Needs root: it creates cgroups under /sys/fs/cgroup and moves its jobs into them.
 * Environment: PORT (default 9464), JOBS (default 5), LINGER_MS (how long to keep serving
 * after the jobs; default 0 = until SIGTERM/SIGINT). A signal during the jobs ends them early.
 */
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CgroupMetrics, cpuSeconds } from 'otel-cgroup-metrics';

if (process.getuid?.() !== 0) {
  console.error('job-runner must run as root: it creates cgroups under /sys/fs/cgroup and moves its jobs into them.');
  process.exit(1);
}

const port = Number(process.env.PORT ?? 9464);
const jobCount = Number(process.env.JOBS ?? 5);
const lingerMs = Number(process.env.LINGER_MS ?? 0);
const NAMESPACE = 'job-runner';

// What each job does: burn 200 ms of CPU time (CPU time, not wall time, so that a busy host
// does not make it burn less), node's own start-up included.
const JOB_SCRIPT = `
  const used = () => { const u = process.cpuUsage(); return u.user + u.system; };
  while (used() < 200_000);
`;

const cgroups = new CgroupMetrics();
const exporter = new PrometheusExporter({ host: '127.0.0.1', port, metricProducers: [cgroups.producer()] });
const meterProvider = new MeterProvider({ readers: [exporter] });
await exporter.startServer().catch((err: Error) => {
  console.error(`cannot serve on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
console.log(`serving http://127.0.0.1:${port}/metrics`);

// The first SIGTERM/SIGINT ends the running jobs (each still gets its final reading) and the
// lingering; a second one finds no handler left and terminates the process the default way.
const running = new Set<ChildProcess>();
const stopping = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => {
  process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  console.log(`${signal}: stopping`);
  stopping.abort();
  for (const child of running) child.kill('SIGTERM');
};
process.on('SIGTERM', onSignal).on('SIGINT', onSignal);

/**
 * The directories of a new cgroup: one in each v1 hierarchy the metrics come from (cpu and
 * cpuacct may be one co-mounted hierarchy), or one under the cgroup2 mount on a v2 host.
 */
function cgroupDirs(name: string): string[] {
  const { mode, v1, v2 } = cgroups.mounts;
  if (mode === 'v2' && v2) return [path.join(v2.mountPoint, name)];
  const mountPoints = new Set(['cpu', 'cpuacct', 'memory', 'pids'].flatMap((c) => v1.get(c)?.mountPoint ?? []));
  return [...mountPoints].map((m) => path.join(m, name));
}

/** rmdir of an emptied cgroup; the kernel may need a moment after the last process was reaped. */
async function removeCgroupDir(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt === 20) throw err;
      await sleep(50);
    }
  }
}

/** Runs JOB_SCRIPT in the cgroup `dirs`; resolves with how it ended. */
function runInCgroup(dirs: string[]): Promise<string> {
  // The shell writes its own pid into each cgroup.procs, then execs node: the job is in its
  // cgroup before its first instruction, so all of its CPU time is counted there.
  const script = 'for procs in "$@"; do echo $$ > "$procs" || exit 1; done; exec "$0" -e "$JOB_SCRIPT"';
  const procsFiles = dirs.map((d) => path.join(d, 'cgroup.procs'));
  const child = spawn('/bin/sh', ['-c', script, process.execPath, ...procsFiles], {
    env: { ...process.env, JOB_SCRIPT },
    stdio: 'inherit',
  });
  running.add(child);
  return new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`failed to start: ${err.message}`));
    child.once('exit', (code, signal) => resolve(signal ? `killed by ${signal}` : `exit code ${code}`));
  }).finally(() => running.delete(child));
}

async function runJob(i: number): Promise<void> {
  const id = `job-${i}`;
  const name = `otel-example-${process.pid}-${id}`; // unique on the host
  const dirs = cgroupDirs(name);
  const created: string[] = [];
  try {
    for (const dir of dirs) {
      mkdirSync(dir);
      created.push(dir);
    }
    // Register before the job starts: its series start now, and nothing it does is missed.
    cgroups.add({ id, namespace: NAMESPACE, cgroup: `/${name}`, attributes: { 'job.name': id } });
    const ended = await runInCgroup(dirs);
    // The job is gone but its cgroup is not: read it one last time. That reading goes out at
    // the next collection of every reader (here: the next scrape), then the series vanish.
    const final = await cgroups.stop(id, NAMESPACE);
    const cpu = final.stats ? cpuSeconds(final.stats) : undefined;
    console.log(`${id}: ${ended}; final reading: ${final.source}, cpu ${cpu?.toFixed(3) ?? '?'} s`);
  } finally {
    // After stop(): the final reading is taken, the directories are no longer needed.
    for (const dir of created) await removeCgroupDir(dir);
  }
}

// All at once, as a runner with free slots would. allSettled: one job's failure (a cgroup that
// cannot be created) must not leave the others' processes and cgroups behind.
const results = await Promise.allSettled(Array.from({ length: jobCount }, (_, i) => runJob(i)));
for (const r of results) {
  if (r.status === 'rejected') {
    console.error(`a job failed: ${String(r.reason)}`);
    process.exitCode = 1;
  }
}
console.log(`all ${jobCount} jobs done; their final readings wait for the next scrape`);

// Keep serving so that a scraper collects the final readings: LINGER_MS, or until a signal.
// (The exporter's HTTP server is unref()ed and would not hold the process open; this timer does.)
await sleep(lingerMs > 0 ? lingerMs : 2 ** 31 - 1, undefined, { signal: stopping.signal }).catch(() => {});
await meterProvider.shutdown();
console.log('done');
