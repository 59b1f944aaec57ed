/**
 * How the package meets the user's OpenTelemetry JS, on the line this run tests: 2.x on the
 * default run (`npm test`), 3.x on Node 24 (compat/otel3/test.sh sets OTEL_JS_LINE=3 and
 * resolves @opentelemetry/* from compat/otel3/node_modules). Every @opentelemetry/* package
 * the library imports is a peer dependency: `npm install` of the packed package into a user's
 * project of that line leaves one copy of @opentelemetry/api, sdk-metrics, core and resources
 * — the user's — and a producer built by the package works inside the user's MeterProvider
 * (and its instruments in the user's meter), the agent CLI with it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));
const LINE = process.env.OTEL_JS_LINE ?? '2';
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  peerDependencies: Record<string, string>;
};

/** The version of `name` as this test process resolves it (through the overlay on the 3.x run). */
function resolvedVersion(name: string): { version: string; dir: string } {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(name)));
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) {
    const up = path.dirname(dir);
    assert.notEqual(up, dir, `no package.json of ${name} above ${import.meta.resolve(name)}`);
    dir = up;
  }
  return { version: (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version, dir };
}

const STABLE = ['@opentelemetry/sdk-metrics', '@opentelemetry/core', '@opentelemetry/resources'];
const EXPERIMENTAL = Object.keys(pkg.peerDependencies).filter((p) => /exporter|otlp/.test(p));

describe(`the OpenTelemetry JS line of this run: ${LINE}.x`, () => {
  test('every @opentelemetry/* peer resolves to that line; Node.js is one the line supports', () => {
    assert.ok(LINE === '2' || LINE === '3', `OTEL_JS_LINE=${LINE}`);
    for (const name of STABLE) assert.equal(resolvedVersion(name).version.split('.')[0], LINE, `${name} ${resolvedVersion(name).version}`);
    for (const name of EXPERIMENTAL) {
      const minor = Number(resolvedVersion(name).version.split('.')[1]);
      assert.ok(LINE === '2' ? minor >= 200 && minor < 300 : minor >= 300 && minor < 400, `${name} ${resolvedVersion(name).version}`);
    }
    assert.equal(resolvedVersion('@opentelemetry/api').version.split('.').slice(0, 2).join('.'), LINE === '2' ? '1.9' : '1.10');
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    if (LINE === '3') assert.ok(major > 22 || (major === 22 && minor >= 15), `3.x needs Node.js >= 22.15, this is ${process.versions.node}`);
    if (LINE === '3') assert.ok(resolvedVersion('@opentelemetry/sdk-metrics').dir.includes('/compat/otel3/'), 'the 3.x run resolves from compat/otel3');
  });

  test('the peer ranges cover both lines; every @opentelemetry/* import of src/ is a peer', () => {
    for (const name of STABLE) assert.equal(pkg.peerDependencies[name], '^2.12.0 || ^3.0.0', name);
    assert.equal(pkg.peerDependencies['@opentelemetry/api'], '^1.9.0');
    for (const name of EXPERIMENTAL) assert.equal(pkg.peerDependencies[name], '^0.223.0 || >=0.300.0 <0.400.0', name);
    const imported = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name));
        else if (e.name.endsWith('.ts'))
          for (const m of fs.readFileSync(path.join(dir, e.name), 'utf8').matchAll(/['"](@opentelemetry\/[a-z-]+)['"]/g)) imported.add(m[1] as string);
      }
    };
    walk(path.join(ROOT, 'src'));
    for (const name of imported) assert.ok(pkg.peerDependencies[name], `${name} is imported by src/ but is no peer dependency`);
    assert.ok(imported.has('@opentelemetry/sdk-metrics') && imported.has('@opentelemetry/exporter-metrics-otlp-grpc'));
  });
});

describe(`a user's project on OpenTelemetry JS ${LINE}.x installs the packed package with npm`, () => {
  test("one copy of the API and the SDK, the user's; the producer and the instruments inside the user's MeterProvider; the CLI", () => {
    assert.ok(fs.existsSync(path.join(ROOT, 'dist/index.js')), 'dist/index.js is missing: run `npm run build` first');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ocm-user-otel${LINE}-`));
    const npmEnv = { ...process.env, NODE_OPTIONS: '', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };
    try {
      const pack = spawnSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: npmEnv,
        timeout: 120_000,
      });
      assert.equal(pack.status, 0, pack.stderr);
      const tarball = path.join(dir, pack.stdout.trim().split('\n').pop() as string);
      // The user's own pins: exactly the versions of the line under test.
      const deps: Record<string, string> = { [pkg.name]: `file:${tarball}` };
      for (const name of Object.keys(pkg.peerDependencies)) deps[name] = resolvedVersion(name).version;
      const user = path.join(dir, 'user');
      fs.mkdirSync(user);
      fs.writeFileSync(
        path.join(user, 'package.json'),
        JSON.stringify({ name: 'user-app', version: '1.0.0', private: true, type: 'module', dependencies: deps }),
      );
      const install = spawnSync('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], {
        cwd: user,
        encoding: 'utf8',
        env: npmEnv,
        timeout: 300_000,
      });
      assert.equal(install.status, 0, `npm install: ${install.stderr}`);
      const ls = spawnSync('npm', ['ls', '--all'], { cwd: user, encoding: 'utf8', env: npmEnv, timeout: 60_000 });
      assert.equal(ls.status, 0, `npm ls: nothing missing or invalid\n${ls.stdout}${ls.stderr}`);
      const own = path.join(user, 'node_modules', pkg.name);
      for (const name of ['@opentelemetry/api', ...STABLE])
        assert.ok(!fs.existsSync(path.join(own, 'node_modules', name)), `${pkg.name} must not get a copy of its own of ${name}`);

      fs.writeFileSync(
        path.join(user, 'app.js'),
        `import { createRequire } from 'node:module';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { CgroupMetrics, prometheusNamingProducer } from 'otel-cgroup-metrics';

class UserReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
const fromUser = createRequire(import.meta.url);
const fromPackage = createRequire(fromUser.resolve('otel-cgroup-metrics'));
const same = ['@opentelemetry/api', '@opentelemetry/sdk-metrics', '@opentelemetry/core', '@opentelemetry/resources']
  .every((n) => fromUser.resolve(n) === fromPackage.resolve(n));

const cgroups = new CgroupMetrics();
cgroups.add({ id: 'app', namespace: 'user', cgroup: { pid: process.pid } });
const reader = new UserReader({ metricProducers: [cgroups.producer()] });
const pull = new UserReader({ metricProducers: [prometheusNamingProducer(cgroups.producer())] });
const provider = new MeterProvider({ readers: [reader, pull] });
cgroups.observe(provider.getMeter('user-app'));
const { resourceMetrics, errors } = await reader.collect();
const points = [];
for (const sm of resourceMetrics.scopeMetrics)
  for (const m of sm.metrics)
    for (const p of m.dataPoints) points.push({ scope: sm.scope.name, name: m.descriptor.name, value: p.value, attributes: p.attributes });
const page = new PrometheusSerializer().serialize((await pull.collect()).resourceMetrics);
console.log(JSON.stringify({ same, errors: errors.length, service: resourceMetrics.resource.attributes['service.name'], points, page }));
await provider.shutdown();
`,
      );
      const run = spawnSync(process.execPath, ['app.js'], { cwd: user, encoding: 'utf8', env: npmEnv, timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      const out = JSON.parse(run.stdout.trim()) as {
        same: boolean;
        errors: number;
        service: string;
        points: Array<{ scope: string; name: string; value: number; attributes: Record<string, unknown> }>;
        page: string;
      };
      assert.equal(out.same, true, "the package resolves the user's @opentelemetry/api, sdk-metrics, core and resources");
      assert.equal(out.errors, 0);
      assert.match(out.service, /^unknown_service/, "the resource is the user's MeterProvider's");
      const cpu = out.points.filter((p) => p.scope === 'otel-cgroup-metrics' && p.name === 'container.cpu.time' && p.attributes['container.id'] === 'app');
      assert.equal(cpu.length, 2, 'user and system CPU of the app, from the producer');
      assert.ok(cpu.reduce((s, p) => s + p.value, 0) > 0, 'the app used CPU');
      const memory = out.points.find((p) => p.scope === 'user-app' && p.name === 'container.memory.usage' && p.attributes['container.id'] === 'app');
      assert.ok(memory && memory.value > 1_000_000, `the instruments in the user's meter observe the app's memory: ${JSON.stringify(memory)}`);
      assert.equal(memory.attributes['container.namespace'], 'user');
      assert.match(out.page, /^container_cpu_time_seconds_total\{container_id="app",container_namespace="user",cpu_mode="user"[^}]*\} [0-9.e-]+$/m);

      // The agent's collect command from the user's tree, on the user's SDK.
      const cli = spawnSync(process.execPath, [path.join(own, 'dist/cli/main.js'), 'collect', '--task', `user/cli=pid:${process.pid}`, '--format', 'json'], {
        cwd: user,
        encoding: 'utf8',
        env: npmEnv,
        timeout: 60_000,
      });
      assert.equal(cli.status, 0, cli.stderr);
      assert.match(cli.stdout, /"container\.cpu\.time"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
