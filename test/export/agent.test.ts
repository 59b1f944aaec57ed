/**
 * The agent command as a process: SIGTERM/SIGINT deliver a real v1 cgroup's final reading
 * through OTLP before the exit (well before the next 60 s push), the agent without a task,
 * the exit codes and one-line messages of bad input, and a --help that documents every flag
 * and every OTEL_* variable the code reads.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { DISCOVERY_OPTIONS, ENGINE_OPTIONS, EXPORT_OPTIONS } from '../../src/cli/flags.ts';
import { AgentProcess, CLI, OtlpReceiver, childEnv, httpGet, pointsOf, stopAllAgents, pointValue } from '../helpers/otlp-receiver.ts';
import { freePort, promtoolCheckMetrics } from '../helpers/peers.ts';
import { V1Cgroup, assertV1FirstSplit, spawnBurner, type Burner } from '../metrics/helpers.ts';

const REPO = path.resolve(path.dirname(CLI), '../..');
const V2_ROOT = path.join(REPO, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

after(stopAllAgents);

function run(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 20_000, env: childEnv(env) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('SIGTERM and SIGINT: the final reading of a real v1 cgroup goes out before the exit', () => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    test(sig, async () => {
      const cg = new V1Cgroup(['cpu', 'cpuacct', 'memory', 'pids'], 'ocm-sig');
      let burner: Burner | undefined;
      let agent: AgentProcess | undefined;
      const rx = await OtlpReceiver.start();
      try {
        burner = await spawnBurner(300);
        cg.enter(burner.pid);
        const started = Date.now();
        agent = new AgentProcess([
          '--exporter',
          'otlp',
          '--otlp-endpoint',
          rx.url,
          '--interval',
          '60000',
          '--no-discovery',
          '--task',
          `default/sig=${cg.path}`,
        ]);
        await agent.waitForStderr(/pushing OTLP \(http\/protobuf\) every 60000 ms/);
        const burnt = await burner.burn();
        const kernel = cg.cpuNs();
        const left = 1000 - (Date.now() - started);
        if (left > 0) await sleep(left);
        assert.equal(rx.requests.length, 0, 'nothing is pushed before the signal (the interval is 60 s)');
        assert.ok(agent.running, `the agent exited early: ${agent.stderr}`);

        agent.child.kill(sig);
        const { code, signal } = await agent.waitForExit(15_000);
        assert.equal(signal, null);
        assert.equal(code, 0, `exit code; stderr:\n${agent.stderr}`);
        assert.match(agent.stderr, new RegExp(`${sig}: taking final readings and flushing`));
        assert.match(agent.stderr, /stopped 1 task\(s\); every final reading delivered/);

        assert.equal(rx.requests.length, 1, 'exactly one push: the final one');
        const req = rx.requests[0];
        assert.ok(req?.ok, `the final push was not accepted: ${req?.decodeError}`);
        const user = pointValue(req.body, 'container.cpu.time', { 'container.id': 'sig', 'cpu.mode': 'user' });
        const system = pointValue(req.body, 'container.cpu.time', { 'container.id': 'sig', 'cpu.mode': 'system' });
        const burntS = burnt.cpuMs / 1000;
        console.log(
          `# ${sig}: burnt ${burntS.toFixed(3)} s of CPU; the final push says user ${user} + system ${system} = ${(user + system).toFixed(3)} s (cpuacct.usage ${(kernel.usage / 1e9).toFixed(3)} s)`,
        );
        assert.ok(user + system >= 0.8 * burntS, `final reading ${user + system} s < 0.8 × ${burntS} s burnt`);
        // The reading is the kernel's own counter (the burner had exited: nothing moves any more).
        // The task's only reading: its split against the kernel files, by two relations (not the code's division).
        assertV1FirstSplit(user, system, kernel, 'the final push');
        assert.ok(
          pointsOf(req.body, 'container.memory.usage').some((p) => p.attributes['container.id'] === 'sig'),
          'memory is in the final reading too',
        );
        assert.equal(pointValue(req.body, 'cgroup_metrics.tasks'), 0, 'the task is no longer registered');
      } finally {
        burner?.kill();
        await agent?.stop();
        await rx.close();
        await cg.remove();
      }
    });
  }
});

describe('the agent without a task', () => {
  test('says so once on stderr and serves the self metrics', async () => {
    const port = await freePort();
    const agent = new AgentProcess(['--no-discovery', '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)]);
    try {
      const url = await agent.prometheusUrl();
      const pages: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await httpGet(url);
        assert.equal(r.status, 200);
        pages.push(r.body);
        await sleep(100);
      }
      const page = pages[pages.length - 1] as string;
      assert.match(page, /^cgroup_metrics_tasks\{[^}]*\} 0$/m);
      assert.match(page, /^cgroup_metrics_final_readings_pending\{[^}]*\} 0$/m);
      assert.match(page, /^cgroup_metrics_collection_duration_seconds\{/m);
      assert.doesNotMatch(page, /^container_/m, 'no task, no container series');
      const lint = await promtoolCheckMetrics(page);
      assert.equal(lint.code, 0, lint.output);
      const said = agent.stderrLines().filter((l) => /no task given/.test(l));
      assert.deepEqual(said, ['otel-cgroup-metrics: no task given (--task NAMESPACE/ID=CGROUP) and discovery is off: serving self-observability metrics only']);
      agent.child.kill('SIGTERM');
      const { code } = await agent.waitForExit();
      assert.equal(code, 0);
      assert.match(agent.stderr, /stopped 0 task\(s\); nothing to push/);
      assert.equal(agent.stderrLines().filter((l) => /no task given/.test(l)).length, 1, 'said once');
    } finally {
      await agent.stop();
    }
  });
});

describe('OTEL_SDK_DISABLED=true', () => {
  test('says so in one line and exits 0 at once: no endpoint served, nothing pushed', async () => {
    // The Prometheus port is held here: an agent that tried to serve would fail on it (the control below).
    const held = net.createServer();
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    const port = (held.address() as net.AddressInfo).port;
    const rx = await OtlpReceiver.start();
    const args = ['--no-discovery', '--exporter', 'prometheus,otlp', '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)];
    args.push('--otlp-endpoint', rx.url, '--interval', '1000');
    try {
      for (const value of ['true', 'TRUE', ' True ']) {
        const started = Date.now();
        const agent = new AgentProcess(args, { OTEL_SDK_DISABLED: value });
        try {
          const { code, signal } = await agent.waitForExit(5_000);
          const tookMs = Date.now() - started;
          assert.equal(signal, null);
          assert.equal(code, 0, `OTEL_SDK_DISABLED=${JSON.stringify(value)}: exit code; stderr:\n${agent.stderr}`);
          assert.deepEqual(agent.stderrLines(), [
            'otel-cgroup-metrics: OTEL_SDK_DISABLED=true: the OpenTelemetry SDK is disabled; exiting without collecting, serving or pushing',
          ]);
          assert.equal(agent.stdout, '');
          assert.ok(tookMs < 5_000, `took ${tookMs} ms`);
        } finally {
          await agent.stop();
        }
      }
      assert.equal(rx.requests.length, 0, 'nothing pushed');

      // The control: not disabled, the same agent tries to serve on the held port and fails.
      const control = run(args, { OTEL_SDK_DISABLED: 'false' });
      assert.equal(control.code, 1, control.stderr);
      assert.match(control.stderr, /cannot serve Prometheus metrics on 127\.0\.0\.1:\d+: the port is in use/);
    } finally {
      await rx.close();
      await new Promise((resolve) => held.close(resolve));
    }
  });
});

describe('bad input: exit code and one line on stderr, nothing started', () => {
  const cases: Array<{ what: string; args: string[]; env?: Record<string, string>; code: number; line: RegExp }> = [
    { what: 'an unknown flag', args: ['--bogus'], code: 2, line: /^otel-cgroup-metrics: Unknown option '--bogus'/ },
    {
      what: 'a flag without its value',
      args: ['--prometheus-port'],
      code: 2,
      line: /^otel-cgroup-metrics: Option '--prometheus-port <value>' argument missing$/,
    },
    { what: 'a flag followed by another flag', args: ['--otlp-endpoint', '--interval', '5'], code: 2, line: /--otlp-endpoint.*ambiguous/ },
    { what: 'a positional argument', args: ['--no-discovery', 'extra'], code: 2, line: /Unexpected argument 'extra'/ },
    { what: 'an unknown command', args: ['frobnicate'], code: 2, line: /unknown command "frobnicate"; see --help$/ },
    { what: 'a malformed --task', args: ['--task', 'nonsense'], code: 2, line: /--task "nonsense": expected NAMESPACE\/ID=CGROUP/ },
    {
      what: 'an unknown exporter (flag)',
      args: ['--exporter', 'zipkin'],
      code: 2,
      line: /^otel-cgroup-metrics: --exporter: unknown exporter "zipkin"; use prometheus, otlp, console or none/,
    },
    {
      what: 'an unknown exporter (OTEL_METRICS_EXPORTER)',
      args: [],
      env: { OTEL_METRICS_EXPORTER: 'otlp,jaeger' },
      code: 2,
      line: /^otel-cgroup-metrics: OTEL_METRICS_EXPORTER: unknown exporter "jaeger"/,
    },
    {
      what: 'grpc with an HTTP endpoint (a path)',
      args: ['--exporter', 'otlp', '--otlp-endpoint', 'http://localhost:4318/v1/metrics'],
      env: { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' },
      code: 2,
      line: /^otel-cgroup-metrics: --otlp-endpoint "http:\/\/localhost:4318\/v1\/metrics": an OTLP\/gRPC endpoint has no path \(e\.g\. http:\/\/collector:4317\)$/,
    },
    { what: 'a bad interval', args: ['--interval', '0'], code: 2, line: /--interval must be a positive integer, got "0"/ },
    { what: 'a bad port variable', args: [], env: { OTEL_EXPORTER_PROMETHEUS_PORT: 'x' }, code: 2, line: /Prometheus port must be 0-65535, got "x"/ },
    { what: 'an unknown metric group', args: ['--groups', 'cpu,gpu'], code: 2, line: /unknown metric group "gpu"/ },
    {
      what: 'a --root that does not exist',
      args: ['--root', '/nonexistent/ocm-root', '--task', 'default/a=/'],
      code: 1,
      line: /^otel-cgroup-metrics: no cgroup hierarchy found: cannot read --root \/nonexistent\/ocm-root: ENOENT/,
    },
    { what: 'a --root that is a file', args: ['--root', '/etc/hostname'], code: 1, line: /cannot read --root \/etc\/hostname: ENOTDIR/ },
    {
      what: 'a --root that is no cgroup tree',
      args: ['--root', '/etc', '--task', 'default/a=/'],
      code: 1,
      line: /^otel-cgroup-metrics: no cgroup hierarchy found: --root \/etc is neither a cgroup2 directory/,
    },
    {
      what: 'a task cgroup that does not exist',
      args: ['--root', V2_ROOT, '--task', 'default/x=/nope'],
      code: 1,
      line: /^otel-cgroup-metrics: cgroup not found: \/nope/,
    },
    {
      what: 'a --task-attribute for no --task',
      args: ['--root', V2_ROOT, '--task', 'default/a=/', '--task-attribute', 'default/b:x=y'],
      code: 2,
      line: /--task-attribute "default\/b:x=y": no --task default\/b/,
    },
    {
      what: 'a malformed --task-attribute',
      args: ['--task-attribute', 'nonsense'],
      code: 2,
      line: /--task-attribute "nonsense": expected NAMESPACE\/ID:KEY=VALUE/,
    },
    {
      what: 'an unknown metadata source',
      args: ['--metadata-sources', 'docker,rkt'],
      code: 2,
      line: /--metadata-sources: unknown metadata source "rkt"; known: docker, podman, containerd, cri/,
    },
    {
      what: 'a malformed --runtime-socket',
      args: ['--runtime-socket', 'docker'],
      code: 2,
      line: /--runtime-socket "docker": expected NAME=\/path\/to\/socket/,
    },
    { what: 'a bad --metadata-timeout', args: ['--metadata-timeout', '0'], code: 2, line: /--metadata-timeout must be a positive integer \(ms\), got "0"/ },
    {
      what: 'a task given twice',
      args: ['--root', V2_ROOT, '--task', 'default/a=/', '--task', 'default/a=/'],
      code: 2,
      line: /--task default\/a is given twice/,
    },
    // Every flag is checked before the host is looked at: a usage error wins over an unusable root.
    {
      what: 'a malformed --task beside a --root that does not exist',
      args: ['--root', '/nonexistent/ocm-root', '--task', 'nonsense'],
      code: 2,
      line: /--task "nonsense": expected NAMESPACE\/ID=CGROUP/,
    },
    {
      what: 'a bad --rescan-interval beside a --root that does not exist',
      args: ['--root', '/nonexistent/ocm-root', '--rescan-interval', '0'],
      code: 2,
      line: /--rescan-interval/,
    },
    // Issue 11: the environment is checked like the flags; durations, hosts, paths and ports have bounds.
    ...['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT'].flatMap((name) =>
      ['collector:4318', 'http://collector:70000', 'abc'].map((bad) => ({
        what: `${name}=${bad} (not the localhost default)`,
        args: ['--exporter', 'otlp', '--no-discovery'],
        env: { [name]: bad },
        code: 2,
        line: new RegExp(`^otel-cgroup-metrics: ${name} "${bad}" is not an http\\(s\\) URL`),
      })),
    ),
    {
      what: 'a malformed OTEL_RESOURCE_ATTRIBUTES entry',
      args: ['--no-discovery'],
      env: { OTEL_RESOURCE_ATTRIBUTES: 'team=a,broken' },
      code: 2,
      line: /^otel-cgroup-metrics: OTEL_RESOURCE_ATTRIBUTES: entry "broken" is not key=value/,
    },
    {
      what: 'malformed OTEL_EXPORTER_OTLP_HEADERS',
      args: ['--exporter', 'otlp', '--no-discovery'],
      env: { OTEL_EXPORTER_OTLP_HEADERS: 'novalue' },
      code: 2,
      line: /^otel-cgroup-metrics: OTEL_EXPORTER_OTLP_HEADERS: entry "novalue" is not key=value/,
    },
    {
      what: 'a malformed OTEL_EXPORTER_OTLP_METRICS_TIMEOUT',
      args: ['--exporter', 'otlp', '--no-discovery'],
      env: { OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '10s' },
      code: 2,
      line: /^otel-cgroup-metrics: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT must be a positive integer, got "10s"/,
    },
    {
      what: 'a malformed OTEL_EXPORTER_OTLP_COMPRESSION',
      args: ['--exporter', 'otlp', '--no-discovery'],
      env: { OTEL_EXPORTER_OTLP_COMPRESSION: 'brotli' },
      code: 2,
      line: /^otel-cgroup-metrics: OTEL_EXPORTER_OTLP_COMPRESSION must be gzip or none, got "brotli"/,
    },
    ...(
      [
        ['--rescan-interval', '99999999999'],
        ['--empty-poll-interval', '2147483648'],
        ['--interval', '2147483648'],
        ['--otlp-timeout', '99999999999'],
        ['--collect-timeout', '2147483648'],
        ['--metadata-timeout', '2147483648'],
        ['--prometheus-final-hold', '2147483648'],
      ] as const
    ).map(([flag, v]) => ({
      what: `${flag} ${v} (past what a timer holds)`,
      args: ['--root', '/nonexistent/ocm-root', flag, v],
      code: 2,
      line: new RegExp(`^otel-cgroup-metrics: ${flag} ${v} is longer than 2147483647 ms`),
    })),
    { what: "--prometheus-host ''", args: ['--prometheus-host', ''], code: 2, line: /^otel-cgroup-metrics: --prometheus-host must name a host/ },
    {
      what: '--prometheus-path with a query',
      args: ['--prometheus-path', '/metrics?x=1'],
      code: 2,
      line: /--prometheus-path must be an absolute path without/,
    },
    { what: '--prometheus-path with a space', args: ['--prometheus-path', '/a b'], code: 2, line: /--prometheus-path must be an absolute path without/ },
    ...['', '0x1f90', '9e3', '+9464'].map((port) => ({
      what: `--prometheus-port ${JSON.stringify(port)}`,
      args: ['--prometheus-port', port],
      code: 2,
      line: /^otel-cgroup-metrics: Prometheus port must be 0-65535, got/,
    })),
  ];
  for (const c of cases) {
    test(`${c.what} → exit ${c.code}`, () => {
      const r = run([...c.args], c.env);
      assert.equal(r.code, c.code, `exit code; stderr:\n${r.stderr}`);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
      assert.match(lines[0] as string, c.line);
      assert.equal(r.stdout, '');
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    });
  }

  test('an unreadable --root (EACCES, as an unprivileged user) → exit 1, one line naming it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-noread-'));
    try {
      fs.chmodSync(dir, 0o000);
      const r = spawnSync(process.execPath, [CLI, '--root', dir, '--task', 'default/a=/'], {
        encoding: 'utf8',
        timeout: 20_000,
        env: childEnv(),
        uid: 65534,
        gid: 65534,
        cwd: os.tmpdir(),
      });
      assert.equal(r.error, undefined, String(r.error));
      assert.equal(r.status, 1, r.stderr);
      assert.deepEqual(r.stderr.split('\n').filter(Boolean), [
        `otel-cgroup-metrics: no cgroup hierarchy found: cannot read --root ${dir}: EACCES: permission denied, scandir '${dir}'`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--help', () => {
  const help = run(['--help']);
  const viaCommand = run(['help']);

  test('exit 0, on stdout, the same text as `help`', () => {
    assert.equal(help.code, 0);
    assert.equal(help.stderr, '');
    assert.match(help.stdout, /^Usage: otel-cgroup-metrics/);
    assert.equal(viaCommand.stdout, help.stdout);
  });

  test('mentions every flag of EXPORT_OPTIONS, ENGINE_OPTIONS and DISCOVERY_OPTIONS', () => {
    const flags = [...Object.keys(EXPORT_OPTIONS), ...Object.keys(ENGINE_OPTIONS), ...Object.keys(DISCOVERY_OPTIONS)];
    assert.ok(flags.length >= 20);
    for (const f of flags) assert.match(help.stdout, new RegExp(`(^|[\\s,])--${f}(?![a-z-])`, 'm'), `--help does not mention --${f}`);
    for (const [f, o] of Object.entries(DISCOVERY_OPTIONS)) if ('short' in o) assert.match(help.stdout, new RegExp(`-${o.short}, --${f}`));
  });

  test('mentions every OTEL_* variable the export code reads', () => {
    const dir = path.join(REPO, 'src/export');
    const vars = new Set<string>();
    for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      for (const m of fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/\bOTEL_[A-Z0-9_]*[A-Z0-9]\b(?!_|\()/g)) vars.add(m[0]);
    }
    for (const m of fs.readFileSync(path.join(REPO, 'src/cli/agent-command.ts'), 'utf8').matchAll(/process\.env\.(OTEL_[A-Z0-9_]+)/g)) vars.add(m[1] as string);
    // config.ts, as the brief names it (a guard against the scan finding nothing):
    for (const v of [
      'OTEL_METRICS_EXPORTER',
      'OTEL_EXPORTER_PROMETHEUS_HOST',
      'OTEL_EXPORTER_PROMETHEUS_PORT',
      'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
      'OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE',
      'OTEL_METRIC_EXPORT_INTERVAL',
      'OTEL_METRIC_EXPORT_TIMEOUT',
      'OTEL_SERVICE_NAME',
      'OTEL_RESOURCE_ATTRIBUTES',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
    ]) {
      assert.ok(vars.has(v), `${v} is no longer read? found ${[...vars].join(', ')}`);
    }
    // What the OTLP exporter reads itself (otlp.ts passes only what flags set).
    for (const k of ['ENDPOINT', 'HEADERS', 'COMPRESSION', 'TIMEOUT']) vars.add(`OTEL_EXPORTER_OTLP_${k}`).add(`OTEL_EXPORTER_OTLP_METRICS_${k}`);
    for (const v of vars) assert.match(help.stdout, new RegExp(`\\b${v}\\b`), `--help does not mention ${v}`);
  });

  test('collect --help documents the engine flags and its own', () => {
    const r = run(['collect', '--help']);
    assert.equal(r.code, 0);
    for (const f of [...Object.keys(ENGINE_OPTIONS), 'format', 'no-unit-suffixes'])
      assert.match(r.stdout, new RegExp(`--${f}\\b`), `collect --help lacks --${f}`);
  });
});

/** Peak RSS of a process in kB (VmHWM), or undefined once it has exited. */
function peakRssKb(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

describe('issue 11 (9): --config reads only a regular file, bounded', () => {
  test('--config /dev/zero: exit 2 within 2 s, peak RSS under 100 MB', async () => {
    const child = spawn(process.execPath, [CLI, '--config', '/dev/zero'], { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const started = Date.now();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, peakRssKb(child.pid as number) ?? 0);
    }, 5);
    const code = await new Promise<number | null>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.on('exit', (c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
    clearInterval(sampler);
    const took = Date.now() - started;
    console.log(`# --config /dev/zero: exit ${code} after ${took} ms, peak RSS ${(peak / 1024).toFixed(1)} MB (sampled)`);
    assert.equal(code, 2, stderr);
    assert.ok(took < 2_000, `took ${took} ms`);
    assert.ok(peak < 100 * 1024, `peak RSS ${peak} kB`);
    assert.deepEqual(stderr.split('\n').filter(Boolean), ['otel-cgroup-metrics: --config /dev/zero: not a regular file']);
  });

  test('a FIFO is refused without blocking; a 100 MB file by its size', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-config-'));
    try {
      const fifo = path.join(dir, 'fifo.json');
      assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
      const t0 = Date.now();
      const r = run(['--config', fifo]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /: not a regular file$/m);
      assert.ok(Date.now() - t0 < 10_000);
      const big = path.join(dir, 'big.json');
      fs.writeFileSync(big, '');
      fs.truncateSync(big, 100 << 20); // sparse: 100 MB of size, no disk
      const b = run(['--config', big]);
      assert.equal(b.code, 2, b.stderr);
      assert.deepEqual(b.stderr.split('\n').filter(Boolean), [`otel-cgroup-metrics: --config ${big}: larger than 1048576 bytes; a config file holds flags`]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('issue 11 (10): discovery never blocks on a FIFO planted in a --root tree', () => {
  const V1_ROOT = path.join(REPO, 'test/fixtures/cgroup-v1-kernel-6.18');
  const plant = (file: string): void => {
    fs.rmSync(file, { force: true });
    assert.equal(spawnSync('mkfifo', [file]).status, 0);
  };
  for (const mode of ['v2', 'v1'] as const)
    test(`${mode}: FIFOs as a task's cgroup.procs, cgroup.events, cpu.stat, cpuacct.usage: the agent starts, polls, and answers SIGTERM within 1 s`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-fifo-'));
      let agent: AgentProcess | undefined;
      try {
        const root = path.join(dir, 'root');
        fs.cpSync(mode === 'v2' ? V2_ROOT : V1_ROOT, root, { recursive: true });
        for (const id of ['j1', 'j2']) {
          if (mode === 'v2') {
            const task = path.join(root, 'jobs', id);
            fs.cpSync(V2_ROOT, task, { recursive: true });
            for (const f of id === 'j1' ? ['cgroup.procs', 'cgroup.events'] : ['cgroup.procs', 'cgroup.events', 'cpu.stat']) plant(path.join(task, f));
          } else {
            for (const ctrl of fs.readdirSync(V1_ROOT)) {
              const task = path.join(root, ctrl, 'jobs', id);
              fs.cpSync(path.join(V1_ROOT, ctrl), task, { recursive: true, filter: (src) => !src.includes('/jobs') });
              plant(path.join(task, 'cgroup.procs'));
              if (ctrl === 'cpuacct' && id === 'j2') plant(path.join(task, 'cpuacct.usage'));
            }
          }
        }
        agent = new AgentProcess([
          '--root',
          root,
          '--layouts',
          '',
          '--layout-pattern',
          '^/jobs/(?<id>[^/]+)$',
          '--metadata-sources',
          'none',
          '--exporter',
          'none',
          '--empty-poll-interval',
          '50',
          '--rescan-interval',
          '100',
        ]);
        await agent.waitForStderr(new RegExp(`discovering custom tasks on a ${mode} cgroup host: 2 found`));
        await sleep(300); // rescans and polls run over the FIFOs
        assert.ok(agent.running, agent.stderr);
        const t0 = Date.now();
        agent.child.kill('SIGTERM');
        const { code } = await agent.waitForExit(5_000);
        const took = Date.now() - t0;
        console.log(`# FIFO ${mode} tree: SIGTERM answered in ${took} ms`);
        assert.equal(code, 0, agent.stderr);
        assert.ok(took < 1_000, `SIGTERM took ${took} ms`);
      } finally {
        await agent?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
});
