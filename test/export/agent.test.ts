/**
 * The agent command as a process: SIGTERM/SIGINT deliver a real v1 cgroup's final reading
 * through OTLP before the exit (well before the next 60 s push), the agent without a task,
 * the exit codes and one-line messages of bad input, and a --help that documents every flag
 * and every OTEL_* variable the code reads.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { DISCOVERY_OPTIONS, ENGINE_OPTIONS, EXPORT_OPTIONS } from '../../src/cli/flags.ts';
import { AgentProcess, CLI, OtlpReceiver, childEnv, httpGet, pointsOf, stopAllAgents, pointValue } from '../helpers/otlp-receiver.ts';
import { freePort, promtoolCheckMetrics } from '../helpers/peers.ts';
import { V1Cgroup, spawnBurner, type Burner } from '../metrics/helpers.ts';

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
        assert.match(agent.stderr, /stopped 1 task\(s\); flushed/);

        assert.equal(rx.requests.length, 1, 'exactly one push: the final one');
        const req = rx.requests[0];
        assert.ok(req?.ok, `the final push was not accepted: ${req?.decodeError}`);
        const user = pointValue(req.body, 'container.cpu.time', { 'container.id': 'sig', 'cpu.mode': 'user' });
        const system = pointValue(req.body, 'container.cpu.time', { 'container.id': 'sig', 'cpu.mode': 'system' });
        const burntS = burnt.cpuMs / 1000;
        console.log(
          `# ${sig}: burnt ${burntS.toFixed(3)} s of CPU; the final push says user ${user} + system ${system} = ${(user + system).toFixed(3)} s (kernel ${((kernel.user + kernel.sys) / 1e9).toFixed(3)} s)`,
        );
        assert.ok(user + system >= 0.8 * burntS, `final reading ${user + system} s < 0.8 × ${burntS} s burnt`);
        // The reading is the kernel's own counter (the burner had exited: nothing moves any more).
        assert.ok(Math.abs(user - kernel.user / 1e9) < 0.005, `user ${user} vs cpuacct.usage_user ${kernel.user / 1e9}`);
        assert.ok(Math.abs(system - kernel.sys / 1e9) < 0.005, `system ${system} vs cpuacct.usage_sys ${kernel.sys / 1e9}`);
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
      assert.match(agent.stderr, /stopped 0 task\(s\); flushed/);
      assert.equal(agent.stderrLines().filter((l) => /no task given/.test(l)).length, 1, 'said once');
    } finally {
      await agent.stop();
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
      what: 'grpc',
      args: ['--exporter', 'otlp'],
      env: { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc' },
      code: 2,
      line: /^otel-cgroup-metrics: OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: grpc is not supported; use http\/protobuf \(default\) or http\/json$/,
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
