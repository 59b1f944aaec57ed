/**
 * The deployment files against what the agent expects: deploy/kubernetes/daemonset.yaml (parsed
 * with `yaml`), deploy/Dockerfile and .dockerignore. The environment variables are ones the
 * agent reads, the flags parse with the agent's own parseArgs options and pass its own
 * validation, the container port is the Prometheus port the agent ends up with, the host's
 * cgroupfs is mounted read-only where --root says, the security context is root without
 * privileges. Last, the BUILT agent (dist/, `npm run build` first) runs with the manifest's
 * flags and environment (container paths mapped back to the host through the hostPath
 * volumes) and serves the Prometheus endpoint with the node name in its resource.
 */
import { metadataSettings } from '../src/cli/metadata-setup.ts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { engineOptions } from '../src/cli/engine-setup.ts';
import { AGENT_OPTIONS, type EngineFlags, type MetadataFlags } from '../src/cli/flags.ts';
import { AGENT_HELP } from '../src/cli/help.ts';
import { DEFAULT_LAYOUTS, layoutsFrom } from '../src/discovery/layouts.ts';
import { parseExporters, resolveExportConfig, type ExportFlags } from '../src/export/config.ts';
import { freePort } from './helpers/peers.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MANIFEST = path.join(REPO, 'deploy/kubernetes/daemonset.yaml');
const DOCKERFILE = path.join(REPO, 'deploy/Dockerfile');
const DOCKERIGNORE = path.join(REPO, '.dockerignore');

// ---------------------------------------------------------------------------------------------
// The manifest

type Obj = Record<string, unknown>;
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: Array<{ name?: string; containerPort: number; protocol?: string }>;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; recursiveReadOnly?: string }>;
  securityContext?: Obj & { capabilities?: { drop?: string[]; add?: string[] } };
  resources?: { requests?: Obj; limits?: Obj };
  readinessProbe?: Obj;
  livenessProbe?: Obj;
  startupProbe?: Obj;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  hostPID?: boolean;
  hostNetwork?: boolean;
  hostIPC?: boolean;
  containers: Container[];
  initContainers?: Container[];
  volumes?: Array<{ name: string; hostPath?: { path: string; type?: string } }>;
}

function loadManifest(): Obj[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(MANIFEST, 'utf8'));
  assert.ok(Array.isArray(docs), 'the manifest holds YAML documents');
  for (const d of docs) assert.deepEqual(d.errors.map(String), [], 'YAML errors');
  return docs.map((d) => d.toJS() as Obj).filter((d) => d !== null);
}

const docs = loadManifest();
const daemonSet = docs.find((d) => d.kind === 'DaemonSet') as Obj & {
  apiVersion: string;
  metadata: { name: string };
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
  };
};
const pod = daemonSet?.spec.template.spec;
const agent = pod?.containers[0] as Container;
const env = agent?.env ?? [];
const envValue = (name: string): string | undefined => env.find((e) => e.name === name)?.value;

/** The names of the variables the agent reads: OTEL_* in its export configuration and in its --help. */
function variablesTheAgentReads(): Set<string> {
  const config = fs.readFileSync(path.join(REPO, 'src/export/config.ts'), 'utf8');
  const names = new Set<string>();
  for (const text of [config, AGENT_HELP]) for (const m of text.matchAll(/\bOTEL_[A-Z_]+[A-Z]\b/g)) names.add(m[0]);
  return names;
}

/** Kubernetes' $(VAR) expansion, with the downward API's fields given made-up values. */
const FIELD_VALUES: Record<string, string> = {
  'spec.nodeName': 'node-test-1',
  'metadata.name': 'otel-cgroup-metrics-x7k2p',
  'metadata.namespace': 'monitoring',
  'metadata.uid': '7f1c2a9e-4b1d-4c55-9a0e-2d3f4a5b6c7d',
  'status.hostIP': '10.0.0.7',
};
function expandEnv(vars: readonly EnvVar[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of vars) {
    if (v.valueFrom) {
      const field = v.valueFrom.fieldRef?.fieldPath;
      assert.ok(field && FIELD_VALUES[field] !== undefined, `${v.name}: unexpected valueFrom ${JSON.stringify(v.valueFrom)}`);
      out[v.name] = FIELD_VALUES[field] as string;
    } else {
      out[v.name] = (v.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => out[name] ?? whole);
    }
  }
  return out;
}

function parseAgentArgs(args: readonly string[]): Obj {
  return parseArgs({ args: [...args], options: AGENT_OPTIONS, allowPositionals: false, strict: true }).values as Obj;
}

// ---------------------------------------------------------------------------------------------
// The Dockerfile

interface Instruction {
  op: string;
  args: string;
}
function dockerInstructions(): Instruction[] {
  const text = fs.readFileSync(DOCKERFILE, 'utf8');
  const out: Instruction[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line) && current === '') continue;
    if (/^\s*#/.test(line)) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    current += line;
    if (current.trim()) {
      const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(current);
      assert.ok(m, `Dockerfile line ${JSON.stringify(current)}`);
      out.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim() });
    }
    current = '';
  }
  return out;
}

/** The Dockerfile's stages, the last one being the image. */
function stages(ins: readonly Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of ins) {
    if (i.op === 'FROM') out.push([]);
    out[out.length - 1]?.push(i);
  }
  return out;
}

/** ENV KEY=VALUE pairs of a stage. */
function envOf(stage: readonly Instruction[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const i of stage.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) out[m[1] as string] = (m[2] as string).replace(/^"|"$/g, '');
  }
  return out;
}

/** Runs a command to its end: exit code and output. */
function exec(cmd: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const image = stages(dockerInstructions()).at(-1) as Instruction[];
const imageEnv = envOf(image);

/** The export configuration the agent resolves in the pod: image ENV, then the manifest's env, then its flags. */
function podExportConfig(): ReturnType<typeof resolveExportConfig> {
  return resolveExportConfig(parseAgentArgs(agent.args ?? []) as ExportFlags, { ...imageEnv, ...expandEnv(env) });
}

// ---------------------------------------------------------------------------------------------

describe('deploy/kubernetes/daemonset.yaml', () => {
  test('a DaemonSet of one agent container and a ServiceAccount without a token', () => {
    assert.ok(daemonSet, 'a DaemonSet');
    assert.equal(daemonSet.apiVersion, 'apps/v1');
    for (const [k, v] of Object.entries(daemonSet.spec.selector.matchLabels))
      assert.equal(daemonSet.spec.template.metadata.labels[k], v, `selector label ${k}`);
    assert.equal(pod.containers.length, 1);
    assert.equal(pod.initContainers, undefined);
    const sa = docs.find((d) => d.kind === 'ServiceAccount') as (Obj & { metadata: { name: string }; automountServiceAccountToken?: boolean }) | undefined;
    if (pod.serviceAccountName !== undefined) {
      assert.equal(sa?.metadata.name, pod.serviceAccountName, 'the ServiceAccount it names is in the manifest');
      assert.equal(sa?.automountServiceAccountToken, false);
    }
    assert.equal(pod.automountServiceAccountToken, false, 'the agent never calls the Kubernetes API');
    assert.ok(!docs.some((d) => /Role/.test(String(d.kind))), 'no RBAC');
  });

  test("the container runs the image's entrypoint (the agent): flags only, no command", () => {
    assert.equal(agent.command, undefined);
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string };
    assert.match(agent.image, new RegExp(`(^|/)${pkg.name}:${pkg.version.replace(/\./g, '\\.')}$`), 'the image of this version');
  });

  test('every flag is one the agent accepts, with values it accepts', () => {
    const args = agent.args ?? [];
    const flags = parseAgentArgs(args); // throws on an unknown flag or a missing value, as the agent does
    assert.equal(flags.help, undefined);
    // The agent's own validation of the values (what agentCommand does before starting).
    resolveExportConfig(flags as ExportFlags, {});
    engineOptions(flags as EngineFlags);
    metadataSettings(flags as MetadataFlags);
    const layouts = layoutsFrom(
      flags.layouts === undefined
        ? DEFAULT_LAYOUTS
        : String(flags.layouts)
            .split(',')
            .map((l) => l.trim()),
      (flags['layout-pattern'] as string[] | undefined) ?? [],
    );
    assert.ok(
      layouts.some((l) => l.name === 'kubernetes'),
      'the kubernetes layout: pods are what a node runs',
    );
    assert.equal(flags['no-discovery'], undefined, 'discovery on');
    for (const f of ['rescan-interval', 'empty-poll-interval', 'collect-timeout', 'max-pending'] as const) {
      if (flags[f] !== undefined) assert.ok(Number.isInteger(Number(flags[f])) && Number(flags[f]) > 0, `--${f}`);
    }
    assert.equal(flags.task, undefined, 'tasks come from discovery, not --task');
  });

  test('every environment variable set is one the agent reads (or a downward-API value used inside one)', () => {
    const reads = variablesTheAgentReads();
    for (const must of [
      'OTEL_METRICS_EXPORTER',
      'OTEL_EXPORTER_OTLP_ENDPOINT',
      'OTEL_RESOURCE_ATTRIBUTES',
      'OTEL_EXPORTER_PROMETHEUS_PORT',
      'OTEL_SERVICE_NAME',
    ]) {
      assert.ok(reads.has(must), `${must} among the names the agent reads (${[...reads].join(', ')})`);
    }
    const names = env.map((e) => e.name);
    assert.equal(new Set(names).size, names.length, 'no variable twice');
    for (const [i, e] of env.entries()) {
      const usedBy = env.slice(i + 1).filter((later) => later.value?.includes(`$(${e.name})`));
      if (!reads.has(e.name)) {
        assert.ok(usedBy.length > 0 && usedBy.every((u) => reads.has(u.name)), `${e.name} is neither read by the agent nor used in a variable it reads`);
      }
      // $(VAR) only expands variables defined before it.
      for (const m of (e.value ?? '').matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
        assert.ok(names.slice(0, i).includes(m[1] as string), `${e.name} uses $(${m[1]}) before it is defined`);
    }
    for (const [k] of Object.entries(imageEnv)) assert.ok(reads.has(k), `the image's ENV ${k} is read by the agent`);
  });

  test('the node name from the downward API in the resource; OTLP and Prometheus both exported, OTLP to an http(s) endpoint', () => {
    assert.deepEqual(env.find((e) => e.name === 'K8S_NODE_NAME')?.valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    const expanded = expandEnv(env);
    const attrs = Object.fromEntries((expanded.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
    assert.equal(attrs['k8s.node.name'], 'node-test-1');
    assert.equal(attrs['host.name'], 'node-test-1', "host.name is the node, not the pod's hostname");
    assert.deepEqual(env.find((e) => e.name === 'K8S_POD_UID')?.valueFrom, { fieldRef: { fieldPath: 'metadata.uid' } });
    assert.ok(attrs['service.instance.id'], 'the agent instance identified once, on the resource');
    // The agent's own pod never reaches the resource: promoted to labels, it would stamp every container's series.
    for (const k of Object.keys(attrs))
      assert.ok(!k.startsWith('k8s.pod.') && !k.startsWith('k8s.namespace.') && !k.startsWith('container.'), `${k} on the agent's resource`);
    assert.deepEqual(parseExporters(envValue('OTEL_METRICS_EXPORTER') ?? '', 'OTEL_METRICS_EXPORTER').sort(), ['otlp', 'prometheus']);
    const config = podExportConfig();
    assert.deepEqual([...config.exporters].sort(), ['otlp', 'prometheus']);
    const endpoint = new URL(expanded.OTEL_EXPORTER_OTLP_ENDPOINT ?? '');
    assert.ok(endpoint.protocol === 'http:' || endpoint.protocol === 'https:', endpoint.href);
    assert.equal(config.otlp.protocol, 'http/protobuf');
  });

  test('the container port is the Prometheus port the agent listens on, on every interface; no annotation invites the kubernetes-pods job', () => {
    const config = podExportConfig();
    const metrics = agent.ports?.find((p) => p.name === 'metrics');
    assert.ok(metrics, 'a port named metrics');
    assert.equal(metrics.containerPort, config.prometheus.port);
    assert.equal(metrics.protocol ?? 'TCP', 'TCP');
    assert.equal(config.prometheus.host, '0.0.0.0', 'reachable from outside the pod');
    // That job would label every container's series with the agent's own pod and namespace.
    const ann = daemonSet.spec.template.metadata.annotations ?? {};
    assert.deepEqual(
      Object.keys(ann).filter((k) => k.startsWith('prometheus.io/')),
      [],
    );
  });

  test("every runtime socket the agent is pointed at lies in a read-only mount of the node's /run", () => {
    const flags = parseAgentArgs(agent.args ?? []) as MetadataFlags;
    metadataSettings(flags); // the agent accepts them
    const sockets = (flags['runtime-socket'] ?? []).map((s) => s.split('=') as [string, string]);
    assert.deepEqual(sockets.map(([name]) => name).sort(), ['containerd', 'cri', 'docker', 'podman']);
    const hostVolumes = new Map((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath as { path: string }]));
    for (const [name, socket] of sockets) {
      const mount = (agent.volumeMounts ?? []).find((m) => socket.startsWith(`${m.mountPath}/`));
      assert.ok(mount, `--runtime-socket ${name}=${socket} is in a mounted volume`);
      assert.equal(mount.readOnly, true, `${mount.mountPath} read-only`);
      assert.equal(hostVolumes.get(mount.name)?.path, '/run', `${mount.name} is the node's /run`);
    }
  });

  test('probes never GET the metrics path (that would be a scrape, taking the final readings)', () => {
    const config = podExportConfig();
    for (const probe of [agent.readinessProbe, agent.livenessProbe, agent.startupProbe]) {
      if (!probe) continue;
      const get = probe.httpGet as { path?: string } | undefined;
      assert.ok(!get || get.path !== config.prometheus.path, `probe ${JSON.stringify(probe)}`);
      const tcp = probe.tcpSocket as { port: number | string } | undefined;
      if (tcp) assert.ok(tcp.port === 'metrics' || tcp.port === config.prometheus.port);
    }
  });

  test("the host's /sys/fs/cgroup is mounted read-only where --root points; every hostPath is read-only", () => {
    const hostVolumes = new Map((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, v.hostPath as { path: string }]));
    const mounts = (agent.volumeMounts ?? []).filter((m) => hostVolumes.has(m.name));
    assert.ok(mounts.length > 0, 'host paths mounted');
    for (const m of mounts) {
      assert.equal(m.readOnly, true, `${m.mountPath} read-only`);
      assert.notEqual(m.mountPath, '/proc', 'nothing over /proc');
    }
    const cgroup = mounts.find((m) => hostVolumes.get(m.name)?.path === '/sys/fs/cgroup');
    assert.ok(cgroup, "the host's /sys/fs/cgroup is mounted");
    const root = parseAgentArgs(agent.args ?? []).root as string | undefined;
    assert.equal(root ?? '/sys/fs/cgroup', cgroup.mountPath, "--root is where the host's cgroupfs is");
    assert.ok(!pod.hostPID && !pod.hostNetwork && !pod.hostIPC);
  });

  test('security: root (to read cgroupfs) but no privilege, no capability, a read-only root filesystem; resources bounded', () => {
    const sc = agent.securityContext ?? {};
    assert.equal(sc.runAsUser, 0);
    assert.notEqual(sc.runAsNonRoot, true);
    assert.notEqual(sc.privileged, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.ok(sc.capabilities?.drop?.includes('ALL'), 'every capability dropped');
    assert.deepEqual(sc.capabilities?.add ?? [], []);
    for (const k of ['cpu', 'memory']) {
      assert.ok(agent.resources?.limits?.[k], `limits.${k}`);
      assert.ok(agent.resources?.requests?.[k], `requests.${k}`);
    }
  });
});

describe('deploy/Dockerfile and .dockerignore', () => {
  const all = dockerInstructions();
  const build = stages(all).slice(0, -1).flat();

  test('node:24-slim stages: npm ci, build, prune the dev dependencies; the image copies dist and node_modules from the build', () => {
    for (const s of stages(all)) assert.match((s[0] as Instruction).args, /^node:24-slim\b/);
    assert.ok(stages(all).length >= 2, 'multi-stage');
    const runs = build
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' && ');
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm run build\b/);
    assert.match(runs, /npm prune --omit=dev\b/);
    const copies = image.filter((i) => i.op === 'COPY').map((i) => i.args);
    assert.ok(
      copies.some((c) => /^--from=\S+\s+\S*\/dist\s/.test(c)),
      'dist from the build stage',
    );
    assert.ok(
      copies.some((c) => /^--from=\S+\s+\S*\/node_modules\s/.test(c)),
      'node_modules from the build stage',
    );
    assert.ok(
      copies.some((c) => /^--from=\S+\s+\S*\/native\/build\s+\.\/native\/build$/.test(c)),
      'the events addon from the build stage, where dist/discovery/native-events.js looks for it',
    );
    assert.ok(!image.some((i) => i.op === 'RUN' && /npm (ci|install)/.test(i.args)), 'no install in the image stage');
  });

  test('ENTRYPOINT runs dist/cli/main.js (the build output of src/cli/main.ts) with node; EXPOSE is the Prometheus port; it listens on 0.0.0.0', () => {
    const entry = image.filter((i) => i.op === 'ENTRYPOINT').at(-1);
    assert.ok(entry, 'an ENTRYPOINT');
    const argv = JSON.parse(entry.args) as string[];
    assert.equal(argv[0], 'node');
    const workdir = image.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';
    const script = path.posix.resolve(workdir, argv[1] as string);
    assert.equal(script, path.posix.join(workdir, 'dist/cli/main.js'));
    const build = JSON.parse(fs.readFileSync(path.join(REPO, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { rootDir: string; outDir: string } };
    assert.equal(build.compilerOptions.rootDir, 'src');
    assert.equal(build.compilerOptions.outDir, 'dist');
    assert.ok(fs.existsSync(path.join(REPO, 'src/cli/main.ts')));
    assert.equal(imageEnv.OTEL_EXPORTER_PROMETHEUS_HOST, '0.0.0.0');
    const port = resolveExportConfig({}, imageEnv).prometheus.port;
    const exposed = image
      .filter((i) => i.op === 'EXPOSE')
      .flatMap((i) => i.args.split(/\s+/))
      .map((p) => Number(p.split('/')[0]));
    assert.deepEqual(exposed, [port]);
    assert.equal(port, podExportConfig().prometheus.port, 'the DaemonSet and the image agree');
  });

  test('the build stage, its RUN steps run as written in a copy of its context (no Docker engine here), gives an image tree where the events addon loads and the agent runs', {
    timeout: 300_000,
  }, async () => {
    // Docker Hub is unreachable from this machine: the apt-get step is checked, not run (the
    // packages it names are installed here by scripts/install-peers.sh); the rest runs for real.
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args);
    const apt = runs.find((r) => r.includes('apt-get install'));
    assert.ok(apt, "the build stage installs the addon's build tools");
    for (const p of ['gcc', 'libc6-dev']) assert.match(apt, new RegExp(`\\s${p}(\\s|$)`), `${p} in: ${apt}`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-image-'));
    try {
      for (const i of build.filter((x) => x.op === 'COPY' && !x.args.startsWith('--from'))) {
        const parts = i.args.split(/\s+/);
        const dest = path.join(tmp, parts.at(-1) as string);
        for (const src of parts.slice(0, -1))
          fs.cpSync(path.join(REPO, src), path.join(dest, parts.length > 2 || (parts.at(-1) as string).endsWith('/') ? path.basename(src) : ''), {
            recursive: true,
          });
      }
      for (const r of runs.filter((x) => x !== apt)) {
        const res = await exec('bash', ['-euo', 'pipefail', '-c', r], tmp, 240_000);
        assert.equal(res.code, 0, `RUN ${r}\n${res.stderr.slice(-3000)}`);
      }
      assert.ok(fs.existsSync(path.join(tmp, 'dist/cli/main.js')), 'dist built');
      assert.ok(!fs.existsSync(path.join(tmp, 'node_modules/typescript')), 'dev dependencies pruned');
      const probe = await exec(process.execPath, ['-e', "console.log(typeof require('./native/build/cgroup-events.node').open)"], tmp, 30_000);
      assert.equal(probe.stdout.trim(), 'function', `the events addon loads in the image tree: ${probe.stderr}`);
      const help = await exec(process.execPath, ['dist/cli/main.js', '--help'], tmp, 30_000);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /--no-discovery/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('.dockerignore keeps node_modules, dist and .git out of the context but nothing the Dockerfile copies', () => {
    const patterns = fs
      .readFileSync(DOCKERIGNORE, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    const toRe = (p: string): RegExp =>
      new RegExp(
        `^${p
          .replace(/^\/+|\/+$/g, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .split('**')
          .map((part) => part.replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]'))
          .join('.*')}(/.*)?$`,
      );
    // The last pattern that matches decides; `!` re-includes.
    const ignored = (file: string): boolean => {
      let out = false;
      for (const p of patterns) {
        const negated = p.startsWith('!');
        if (toRe(negated ? p.slice(1) : p).test(file)) out = !negated;
      }
      return out;
    };
    for (const must of ['node_modules', 'dist', '.git', 'node_modules/yaml/package.json']) assert.ok(ignored(must), `${must} ignored`);
    const sources = all.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    assert.ok(sources.length > 0);
    for (const s of sources) {
      const rel = s.replace(/^\.\//, '').replace(/\/$/, '');
      assert.ok(fs.existsSync(path.join(REPO, rel)), `${rel} exists`);
      assert.ok(!ignored(rel), `${rel} is copied but ignored`);
    }
    assert.ok(!ignored('src/cli/main.ts') && !ignored('package-lock.json'));
  });
});

// ---------------------------------------------------------------------------------------------
// The built agent with the manifest's flags and environment

test("the built agent starts with the manifest's flags and environment and serves Prometheus with the node name in its resource", async (t) => {
  const main = path.join(REPO, 'dist/cli/main.js');
  assert.ok(fs.existsSync(main), `${main} is missing: run \`npm run build\` first`);
  if (process.getuid?.() !== 0) assert.fail('the agent reads the host cgroupfs as in the pod: run this test as root');
  // Container paths back to host paths through the hostPath volumes (--root=/host/sys/fs/cgroup → /sys/fs/cgroup).
  const hostVolumes = new Map((pod.volumes ?? []).filter((v) => v.hostPath).map((v) => [v.name, (v.hostPath as { path: string }).path]));
  const mapped = (agent.volumeMounts ?? []).filter((m) => hostVolumes.has(m.name)).map((m) => [m.mountPath, hostVolumes.get(m.name) as string] as const);
  const args = (agent.args ?? []).map((a) => {
    for (const [inPod, onHost] of mapped) if (a.includes(inPod)) return a.replace(inPod, onHost);
    return a;
  });
  // As a port mapping would: the agent's port on a free host port. No collector here: Prometheus only.
  const port = await freePort();
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    ...imageEnv,
    ...expandEnv(env),
    OTEL_METRICS_EXPORTER: 'prometheus',
    OTEL_EXPORTER_PROMETHEUS_PORT: String(port),
  };
  const child = spawn(process.execPath, [main, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 20_000;
    while (!stderr.includes('Prometheus metrics at')) {
      if (child.exitCode !== null) assert.fail(`the agent exited with ${child.exitCode}: ${stderr}`);
      if (Date.now() > deadline) assert.fail(`the agent did not start within 20 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(stderr, /discovering kubernetes, docker, podman, containerd tasks on a \w+ cgroup host/);
    t.diagnostic(stderr.trim().split('\n').slice(0, 3).join(' | '));
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(15_000) });
    const body = await res.text();
    assert.equal(res.status, 200);
    assert.match(body, /^target_info\{.*k8s_node_name="node-test-1"/m, 'the node name in the resource');
    assert.match(body, /^target_info\{.*service_name="otel-cgroup-metrics"/m);
    assert.match(body, /^cgroup_metrics_tasks\b/m);
  } finally {
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), 15_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') child.kill('SIGKILL');
    assert.equal(code, 0, `clean shutdown on SIGTERM: ${stderr}`);
  }
});
