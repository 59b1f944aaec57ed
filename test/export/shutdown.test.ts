/**
 * Shutdown, signals and failures that must speak, with the agent as a real process: SIGHUP
 * delivers a live task's final reading like SIGTERM; a hanging collector cannot hold the agent
 * past --shutdown-timeout, and the exit code and last line say the final reading was not
 * delivered; a collector answering 500 is logged once a minute at most and counted per
 * exporter; an export timeout the SDK reports only to its diagnostic logger is logged; a
 * closed stdout leaves the endpoint serving; running out of file descriptors is said.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { AgentProcess, CLI, OtlpReceiver, childEnv, httpGet, pointValue, pointsOf, promAndOtlpFlags, stopAllAgents } from '../helpers/otlp-receiver.ts';
import { freePort } from '../helpers/peers.ts';

const REPO = path.resolve(path.dirname(CLI), '../..');
const V2_ROOT = path.join(REPO, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const TASK = ['--root', V2_ROOT, '--task', 'default/a=/', '--no-discovery'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

after(stopAllAgents);

describe('signals', () => {
  test('SIGHUP: the final reading of a live --task task reaches the collector; exit 0, "every final reading delivered"', async () => {
    const rx = await OtlpReceiver.start();
    const agent = new AgentProcess(['--exporter', 'otlp', '--otlp-endpoint', rx.url, '--interval', '60000', ...TASK]);
    try {
      await agent.waitForStderr(/pushing OTLP/);
      assert.equal(rx.requests.length, 0, 'nothing is pushed before the signal (the interval is 60 s)');
      agent.child.kill('SIGHUP');
      const { code, signal } = await agent.waitForExit(15_000);
      assert.equal(signal, null, 'SIGHUP no longer kills the agent');
      assert.equal(code, 0, agent.stderr);
      assert.match(agent.stderr, /SIGHUP: taking final readings and flushing/);
      const lines = agent.stderrLines();
      assert.equal(lines[lines.length - 1], 'otel-cgroup-metrics: stopped 1 task(s); every final reading delivered');
      assert.equal(rx.accepted.length, 1, 'one push: the final one');
      const body = rx.last().body;
      assert.ok(
        pointsOf(body, 'container.cpu.time').some((p) => p.attributes['container.id'] === 'a'),
        'the final reading is in the push',
      );
      assert.equal(pointValue(body, 'cgroup_metrics.tasks'), 0, 'the task is no longer registered');
    } finally {
      await agent.stop();
      await rx.close();
    }
  });
});

describe('a bounded shutdown', () => {
  test('a hanging collector with --otlp-timeout 60000 --shutdown-timeout 2000: SIGTERM → exit 3 within ~2 s, "1 final reading(s) not delivered"', async () => {
    const rx = await OtlpReceiver.start({ mode: 'hang' });
    const agent = new AgentProcess([
      '--exporter',
      'otlp',
      '--otlp-endpoint',
      rx.url,
      '--otlp-timeout',
      '60000',
      '--shutdown-timeout',
      '2000',
      '--interval',
      '60000',
      ...TASK,
    ]);
    try {
      await agent.waitForStderr(/pushing OTLP/);
      const t0 = Date.now();
      agent.child.kill('SIGTERM');
      const { code } = await agent.waitForExit(10_000);
      const ms = Date.now() - t0;
      console.log(`# SIGTERM with a hanging collector (--otlp-timeout 60000, --shutdown-timeout 2000): exited after ${ms} ms, code ${code}`);
      assert.equal(code, 3, agent.stderr);
      assert.ok(ms >= 1_900 && ms < 3_000, `shutdown took ${ms} ms`);
      assert.equal(rx.requests.length, 1, 'the final push was made (and never answered)');
      const lines = agent.stderrLines();
      assert.match(
        lines[lines.length - 1] as string,
        /^otel-cgroup-metrics: 1 final reading\(s\) not delivered: otlp: no answer to the last push by the shutdown deadline$/,
      );
    } finally {
      await agent.stop();
      await rx.close();
    }
  });

  test('a second signal during the shutdown exits at once (code 1)', async () => {
    const rx = await OtlpReceiver.start({ mode: 'hang' });
    const agent = new AgentProcess(['--exporter', 'otlp', '--otlp-endpoint', rx.url, '--otlp-timeout', '60000', '--interval', '60000', ...TASK]);
    try {
      await agent.waitForStderr(/pushing OTLP/);
      agent.child.kill('SIGTERM');
      await rx.waitForCount(1, 5_000, 'the final push');
      agent.child.kill('SIGINT');
      const { code } = await agent.waitForExit(3_000);
      assert.equal(code, 1);
      assert.match(agent.stderr, /SIGINT again: exiting without flushing/);
    } finally {
      await agent.stop();
      await rx.close();
    }
  });
});

describe('every failure speaks', () => {
  test('a collector answering 500: one line at once, then nothing for a minute; counted in cgroup_metrics.export.failures{exporter="otlp"}', async () => {
    const rx = await OtlpReceiver.start({ mode: 'error' });
    const port = await freePort();
    const agent = new AgentProcess([...promAndOtlpFlags(port, rx.url, 200), ...TASK]);
    try {
      const url = await agent.prometheusUrl();
      await sleep(3_000);
      const failedLines = agent.stderrLines().filter((l) => /otlp export failed/.test(l));
      assert.deepEqual(failedLines, ['otel-cgroup-metrics: otlp export failed: HTTP 500 Internal Server Error: receiver told to fail']);
      const page = (await httpGet(url)).body;
      const m = page.match(/^cgroup_metrics_export_failures_total\{exporter="otlp"[^}]*\} (\d+)$/m);
      assert.ok(
        m,
        `no export failure counter on the page:\n${page
          .split('\n')
          .filter((l) => l.startsWith('cgroup_metrics'))
          .join('\n')}`,
      );
      const counted = Number(m[1]);
      console.log(`# 500s: ${rx.requests.length} pushes refused in 3 s, ${counted} counted, ${failedLines.length} line logged`);
      assert.ok(counted >= 5 && counted <= rx.requests.length, `counted ${counted} of ${rx.requests.length} refused pushes`);
      agent.child.kill('SIGTERM');
      const { code } = await agent.waitForExit(15_000);
      assert.equal(code, 3, agent.stderr);
      // What was held back is said before the end, with its count; the last line says what was lost.
      assert.match(agent.stderr, /otlp export failed: HTTP 500 Internal Server Error: receiver told to fail \(\d+ more like this in the last 60 s\)/);
      const lines = agent.stderrLines();
      assert.match(lines[lines.length - 1] as string, /^otel-cgroup-metrics: 1 final reading\(s\) not delivered: otlp: HTTP 500 Internal Server Error/);
    } finally {
      await agent.stop();
      await rx.close();
    }
  });

  test('--interval at or below the OTLP timeout with a hanging collector: the timeout is logged (the SDK diagnostic and the exporter)', async () => {
    const rx = await OtlpReceiver.start({ mode: 'hang' });
    const agent = new AgentProcess(['--exporter', 'otlp', '--otlp-endpoint', rx.url, '--otlp-timeout', '60000', '--interval', '300', ...TASK]);
    try {
      await agent.waitForStderr(/otlp export failed: no answer within 300 ms/, 5_000);
      await agent.waitForStderr(/otel error: PeriodicExportingMetricReader: metrics export timed out after 300ms/, 5_000);
      await sleep(1_500);
      assert.equal(agent.stderrLines().filter((l) => /otel error: .*timed out/.test(l)).length, 1, 'the diagnostic is rate-limited too');
    } finally {
      await agent.stop();
      await rx.close();
    }
  });

  test('OTEL_LOG_LEVEL=debug: the SDK diagnostics at debug level reach the log; an unknown level is said', async () => {
    const rx = await OtlpReceiver.start();
    const agent = new AgentProcess(['--exporter', 'otlp', '--otlp-endpoint', rx.url, '--interval', '300', ...TASK], { OTEL_LOG_LEVEL: 'debug' });
    const bad = new AgentProcess(['--exporter', 'none', ...TASK], { OTEL_LOG_LEVEL: 'loud' });
    try {
      await agent.waitForStderr(/otel debug: /, 5_000);
      await bad.waitForStderr(/OTEL_LOG_LEVEL: unknown level "loud", using warn/, 5_000);
      assert.doesNotMatch(bad.stderr, /otel debug/);
    } finally {
      await agent.stop();
      await bad.stop();
      await rx.close();
    }
  });
});

describe('closed pipes', () => {
  test('--exporter console,prometheus into `head -c 10`: stdout closes, the agent and its endpoint stay', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [CLI, '--exporter', 'console,prometheus', '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port), '--interval', '200', ...TASK],
      { cwd: REPO, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // `head -c 10`: ten bytes read, then the pipe's reading end is gone.
      await new Promise<void>((resolve) => {
        let got = 0;
        child.stdout.on('data', (d: Buffer) => {
          got += d.length;
          if (got >= 10) {
            child.stdout.destroy();
            resolve();
          }
        });
      });
      await sleep(3_000);
      assert.equal(child.exitCode, null, `the agent exited: ${stderr}`);
      const r = await httpGet(`http://127.0.0.1:${port}/metrics`);
      assert.equal(r.status, 200);
      assert.match(r.body, /^cgroup_metrics_tasks\{[^}]*\} 1$/m);
      assert.equal(stderr.split('\n').filter((l) => /stdout is closed \(EPIPE\)/.test(l)).length, 1, `said once:\n${stderr}`);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('a low file-descriptor limit', () => {
  test('ulimit -n 80 with 120 tasks on a real cgroup2 tree: the failed watches are said once (EMFILE)', async () => {
    const unified = '/sys/fs/cgroup/unified';
    const v2 = fs.existsSync(`${unified}/cgroup.controllers`) ? unified : '/sys/fs/cgroup';
    assert.ok(fs.existsSync(`${v2}/cgroup.controllers`), 'needs a cgroup2 mount (and root)');
    const root = fs.mkdtempSync(`${v2}/ocm-emfile-`);
    const dirs: string[] = [];
    fs.mkdirSync(`${root}/jobs`);
    for (let i = 0; i < 120; i++) {
      const d = `${root}/jobs/t${i}`;
      fs.mkdirSync(d);
      dirs.push(d);
    }
    const args = [CLI, '--root', root, '--layouts', 'systemd', '--layout-pattern', '^/jobs/(?<id>[^/]+)$', '--exporter', 'none', '--metadata-sources', 'none'];
    const child = spawn('bash', ['-c', 'ulimit -n 80; exec "$@"', 'bash', process.execPath, ...args], {
      cwd: REPO,
      env: childEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 10_000;
      while (!/discovering custom/.test(stderr) && Date.now() < deadline && child.exitCode === null) await sleep(100);
      await sleep(1_000);
      const said = stderr.split('\n').filter((l) => /cannot watch: EMFILE/.test(l));
      assert.equal(said.length, 1, `one line (rate-limited):\n${stderr}`);
      assert.match(said[0] as string, /its end is found by the rescan \(out of file descriptors: raise the limit/);
      assert.equal(child.exitCode, null, stderr);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
      await exited;
      for (const d of dirs) fs.rmdirSync(d);
      fs.rmdirSync(`${root}/jobs`);
      fs.rmdirSync(root);
    }
  });
});
