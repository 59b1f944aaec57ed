/**
 * The examples under examples/, run as a user runs them (`node --import tsx examples/NAME.ts`,
 * importing the package by its name, so dist/ must be built) against real peers:
 *
 * - prometheus-pull: /metrics fetched directly and scraped by a real Prometheus 2.53, whose
 *   query API must return container_cpu_time_total{container_id="self"} > 0; with
 *   UNIT_SUFFIXES=1 the name is container_cpu_time_seconds_total;
 * - otlp-push: a real VictoriaMetrics (-opentelemetry.usePrometheusNaming) receives the pushes,
 *   the last of them the final reading taken by stop() (same timestamp);
 * - compose-with-existing-sdk: both paths print the application's metric and container.cpu.time;
 * - job-runner (root): each job's final container_cpu_time_total (user + system) >= 0.1 s on
 *   the first scrape after the jobs, gone from the next one; the jobs' cgroups are removed;
 *   without root it refuses with a clear message.
 *
 * Every example process is killed (SIGTERM, then SIGKILL) and leftover cgroups removed, pass or fail.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { REPO_ROOT, freePort, sampleValue, startPrometheus, startVictoriaMetrics, type PrometheusPeer, type VictoriaMetricsPeer } from './helpers/peers.ts';

const EXAMPLES = path.join(REPO_ROOT, 'examples');
const CGROUP_ROOT = '/sys/fs/cgroup';

// ------------------------------------------------------------------ example processes

class Example {
  readonly child: ChildProcess;
  stdout = '';
  output = ''; // stdout and stderr, interleaved
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private done = false;

  constructor(
    readonly name: string,
    env: Record<string, string>,
    extra: Pick<SpawnOptions, 'uid' | 'gid'> = {},
  ) {
    // The examples' configuration comes from `env` alone: no OTEL_* leaking in from the runner.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')));
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(EXAMPLES, `${name}.ts`)], {
      cwd: REPO_ROOT,
      env: { ...base, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...extra,
    });
    this.child.stdout?.on('data', (c: Buffer) => {
      this.stdout += c.toString();
      this.output += c.toString();
    });
    this.child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.output += `\nspawn error: ${String(err)}\n`;
        this.done = true;
        resolve({ code: null, signal: null });
      });
      this.child.once('close', (code, signal) => {
        this.done = true;
        resolve({ code, signal });
      });
    });
    running.add(this);
  }

  get pid(): number {
    assert.ok(this.child.pid, `${this.name} has no pid; output:\n${this.output}`);
    return this.child.pid;
  }

  /** Waits for a stdout line matching `re`; fails early, with the output, when the process exits. */
  async waitFor(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.stdout.match(re);
      if (m) return m;
      if (this.done) assert.fail(`${this.name} exited before printing ${re}; output:\n${this.output}`);
      if (Date.now() > deadline) assert.fail(`${this.name} did not print ${re} within ${timeoutMs} ms; output:\n${this.output}`);
      await sleep(50);
    }
  }

  /** Waits for the process to end by itself. */
  async waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const r = await Promise.race([this.exited, sleep(timeoutMs, undefined, { ref: false })]);
    if (!r) assert.fail(`${this.name} did not exit within ${timeoutMs} ms; output:\n${this.output}`);
    return r;
  }

  /** SIGTERM, then SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (!this.done) {
      this.child.kill('SIGTERM');
      const r = await Promise.race([this.exited, sleep(5_000, undefined, { ref: false })]);
      if (!r) {
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    running.delete(this);
  }
}

const running = new Set<Example>();
process.on('exit', () => {
  for (const e of running) e.child.kill('SIGKILL');
});
after(async () => {
  await Promise.all([...running].map((e) => e.stop()));
});

// ------------------------------------------------------------------ Prometheus text

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition page (text format 0.0.4), comments skipped. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    assert.ok(m, `unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = JSON.parse(`"${l[2]}"`) as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(port: number): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return { text, samples: parseExposition(text) };
}

/** Sum of the samples named `name` whose labels include `match`. */
function sumOf(samples: Sample[], name: string, match: Record<string, string>): { n: number; sum: number } {
  const hits = samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return { n: hits.length, sum: hits.reduce((a, s) => a + s.value, 0) };
}

// ------------------------------------------------------------------ tests

before(() => {
  // The examples import 'otel-cgroup-metrics', which resolves to dist/ through package.json.
  assert.ok(fs.existsSync(path.join(REPO_ROOT, 'dist/index.js')), 'dist/index.js is missing: run `npm run build` first (npm test does)');
});

describe('examples/prometheus-pull.ts', () => {
  let prometheus: PrometheusPeer | undefined;
  after(() => prometheus?.stop());

  it('serves container_cpu_time_total for its own cgroup, scraped by a real Prometheus, and exits on SIGTERM', { timeout: 90_000 }, async () => {
    const port = await freePort();
    const ex = new Example('prometheus-pull', { PORT: String(port) });
    await ex.waitFor(/^serving http:\/\/127\.0\.0\.1:\d+\/metrics$/m, 30_000);

    const { text, samples } = await scrape(port);
    const cpu = sumOf(samples, 'container_cpu_time_total', { container_id: 'self' });
    assert.equal(cpu.n, 2, `user and system points expected:\n${text}`);
    assert.ok(cpu.sum > 0, `container_cpu_time_total{container_id="self"} = ${cpu.sum}`);
    assert.equal(sumOf(samples, 'container_cpu_time_seconds_total', {}).n, 0, 'no unit suffix without UNIT_SUFFIXES=1');

    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`] });
    const v = await prometheus.waitForSeries(
      'sum(container_cpu_time_total{container_id="self"})',
      (r) => r.length === 1 && sampleValue(r[0] as (typeof r)[0]) > 0,
      30_000,
    );
    assert.ok(sampleValue(v[0] as (typeof v)[0]) > 0);
    const modes = await prometheus.query('container_cpu_time_total{container_id="self"}');
    assert.deepEqual(modes.map((s) => s.metric.cpu_mode).sort(), ['system', 'user']);

    ex.child.kill('SIGTERM');
    const exit = await ex.waitExit(10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, ex.output);
    assert.match(ex.stdout, /SIGTERM: shutting down/);
  });

  it('with UNIT_SUFFIXES=1 serves container_cpu_time_seconds_total (prometheusNamingProducer)', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const ex = new Example('prometheus-pull', { PORT: String(port), UNIT_SUFFIXES: '1' });
    await ex.waitFor(/^serving /m, 30_000);
    const { text, samples } = await scrape(port);
    const cpu = sumOf(samples, 'container_cpu_time_seconds_total', { container_id: 'self' });
    assert.equal(cpu.n, 2, text);
    assert.ok(cpu.sum > 0);
    assert.equal(sumOf(samples, 'container_cpu_time_total', {}).n, 0, text);
    ex.child.kill('SIGINT');
    assert.deepEqual(await ex.waitExit(10_000), { code: 0, signal: null }, ex.output);
  });

  it('fails clearly when its port is in use', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const first = new Example('prometheus-pull', { PORT: String(port) });
    await first.waitFor(/^serving /m, 30_000);
    const second = new Example('prometheus-pull', { PORT: String(port) });
    const exit = await second.waitExit(30_000);
    assert.equal(exit.code, 1, second.output);
    assert.match(second.output, new RegExp(`cannot serve on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
    await first.stop();
  });
});

describe('examples/otlp-push.ts', () => {
  let vm: VictoriaMetricsPeer | undefined;
  after(() => vm?.stop());

  it('pushes to a real VictoriaMetrics, the last push carrying the final reading taken by stop()', { timeout: 90_000 }, async () => {
    vm = await startVictoriaMetrics({ extraArgs: ['-opentelemetry.usePrometheusNaming'] });
    const ex = new Example('otlp-push', {
      OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: vm.otlpUrl,
      OTEL_METRIC_EXPORT_INTERVAL: '500',
      DURATION_MS: '2500',
    });
    const exit = await ex.waitExit(60_000);
    assert.deepEqual(exit, { code: 0, signal: null }, ex.output);
    assert.doesNotMatch(ex.output, /export (failed|timed out)|Error/i, ex.output);
    const m = ex.stdout.match(/^final reading: source=read timeMs=(\d+)$/m);
    assert.ok(m, ex.output);
    const finalMs = Number(m[1]);

    const v = await vm.waitFor(
      'sum(container_cpu_time_seconds_total{container_id="self"})',
      (r) => r.length === 1 && sampleValue(r[0] as (typeof r)[0]) > 0,
      30_000,
    );
    assert.ok(sampleValue(v[0] as (typeof v)[0]) > 0);

    // Raw samples: several periodic pushes, then the final reading, stamped with its read time.
    // VictoriaMetrics makes the last ~1 s of samples searchable a moment after /internal/force_flush:
    // poll until the final timestamp is there (or fail with what was there).
    type Series = { metric: Record<string, string>; values: number[]; timestamps: number[] };
    let series: Series[] = [];
    const deadline = Date.now() + 15_000;
    for (;;) {
      await vm.flush();
      const res = await fetch(`${vm.url}/api/v1/export?${new URLSearchParams({ 'match[]': 'container_cpu_time_seconds_total{container_id="self"}' })}`);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      series = body
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Series);
      if ((series.length === 2 && series.every((s) => s.timestamps.at(-1) === finalMs)) || Date.now() > deadline) break;
      await sleep(250);
    }
    assert.deepEqual(series.map((s) => s.metric.cpu_mode).sort(), ['system', 'user'], JSON.stringify(series));
    for (const s of series) {
      assert.ok(s.timestamps.length >= 3, `expected periodic pushes and the final one: ${JSON.stringify(s)}`);
      assert.equal(s.timestamps.at(-1), finalMs, `the last sample is the final reading: ${JSON.stringify(s)}`);
      assert.ok(
        s.values.every((x, i) => i === 0 || x >= (s.values[i - 1] as number)),
        `cumulative: ${JSON.stringify(s.values)}`,
      );
    }
  });
});

describe('examples/compose-with-existing-sdk.ts', () => {
  it('prints the application metric and container.cpu.time through the producer and through observe()', { timeout: 60_000 }, async () => {
    const ex = new Example('compose-with-existing-sdk', {});
    const exit = await ex.waitExit(30_000);
    assert.deepEqual(exit, { code: 0, signal: null }, ex.output);
    const [, a, b] = ex.stdout.split(/^--- .*$/m);
    assert.ok(a !== undefined && b !== undefined, `two sections expected:\n${ex.stdout}`);
    for (const [title, section] of [
      ['(a) producer', a],
      ['(b) observe', b],
    ] as const) {
      assert.match(section, /^my-service {2}jobs\.completed \{"queue":"default"\} 3$/m, `${title}:\n${section}`);
      const cpu = [...section.matchAll(/ container\.cpu\.time \{[^}]*"container\.id":"self"[^}]*\} (\S+)$/gm)].map((x) => Number(x[1]));
      assert.equal(cpu.length, 2, `${title}: user and system:\n${section}`);
      assert.ok(
        cpu.every((x) => x > 0),
        `${title}: ${cpu}`,
      );
    }
  });
});

describe('examples/job-runner.ts', () => {
  const cgroupMounts = (): string[] =>
    fs
      .readdirSync(CGROUP_ROOT, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => path.join(CGROUP_ROOT, e.name));

  /** The job cgroups a runner with `pid` made that still exist. */
  const leftovers = (pid: number): string[] =>
    cgroupMounts().flatMap((m) =>
      fs
        .readdirSync(m)
        .filter((n) => n.startsWith(`otel-example-${pid}-`))
        .map((n) => path.join(m, n)),
    );

  /** Kills what is left in a runner's cgroups and removes them. */
  async function removeLeftovers(pid: number): Promise<void> {
    for (const dir of leftovers(pid)) {
      for (const p of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(p), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      for (let i = 0; i < 40; i++) {
        try {
          fs.rmdirSync(dir);
          break;
        } catch {
          await sleep(50);
        }
      }
    }
  }

  it("delivers each job's final reading on the next scrape, then its series vanish; cgroups removed", { timeout: 120_000 }, async () => {
    assert.equal(process.getuid?.(), 0, 'the job-runner test needs root (it creates cgroups under /sys/fs/cgroup)');
    const port = await freePort();
    const jobs = 5;
    const ex = new Example('job-runner', { PORT: String(port), JOBS: String(jobs) });
    try {
      await ex.waitFor(/^serving /m, 30_000);
      await ex.waitFor(/^all 5 jobs done/m, 60_000);
      for (let i = 0; i < jobs; i++) assert.match(ex.stdout, new RegExp(`^job-${i}: exit code 0; final reading: read, cpu 0\\.[0-9]{3} s`, 'm'), ex.output);

      // The first collection after the jobs: every job's final reading, user + system.
      const first = await scrape(port);
      for (let i = 0; i < jobs; i++) {
        const cpu = sumOf(first.samples, 'container_cpu_time_total', { container_id: `job-${i}`, container_namespace: 'job-runner', job_name: `job-${i}` });
        assert.equal(cpu.n, 2, `job-${i}: user and system expected:\n${first.text}`);
        assert.ok(cpu.sum >= 0.1, `job-${i}: final container_cpu_time_total ${cpu.sum} s < 0.1 s (it burns 200 ms of CPU)`);
      }
      // Delivered once: the next collection has no job series left.
      const second = await scrape(port);
      assert.equal(second.samples.filter((s) => s.labels.container_namespace === 'job-runner').length, 0, second.text);
      assert.equal(sumOf(second.samples, 'cgroup_metrics_tasks', {}).sum, 0, second.text);

      assert.deepEqual(leftovers(ex.pid), [], "the jobs' cgroups are removed");

      ex.child.kill('SIGTERM');
      assert.deepEqual(await ex.waitExit(10_000), { code: 0, signal: null }, ex.output);
      assert.match(ex.stdout, /^done$/m);
    } finally {
      await ex.stop();
      if (ex.child.pid) await removeLeftovers(ex.child.pid);
    }
  });

  it('refuses to run without root, saying so', { timeout: 60_000 }, async () => {
    assert.equal(process.getuid?.(), 0, 'this test switches to an unprivileged user, which needs root');
    const ex = new Example('job-runner', { PORT: String(await freePort()), HOME: '/tmp' }, { uid: 65534, gid: 65534 });
    const exit = await ex.waitExit(30_000);
    assert.equal(exit.code, 1, ex.output);
    assert.match(ex.output, /job-runner must run as root/);
    assert.doesNotMatch(ex.stdout, /serving/);
  });
});
