/**
 * Real container runtimes for the discovery tests: a private containerd (own config, root,
 * state, gRPC socket and metrics port; the CRI plugin off unless asked for), a busybox rootfs for
 * `ctr run --rootfs`, and a private dockerd (own data-root, exec-root, pidfile and socket; no
 * iptables, no bridge) with that rootfs imported as `local/busybox`.
 * Recipes: ../shared/design/real-peers.md. Needs root, cgroups, and the Debian packages
 * containerd, runc, busybox-static and docker.io (`bash scripts/install-peers.sh`).
 *
 * Everything is torn down by `stop()`/`remove()`, which may be called any number of times:
 * the containers are killed and deleted, the daemon is killed by its pid, shims and daemons
 * left behind are found by their command line (which names this instance's socket or
 * directory) and killed by pid, mounts under the temporary directory are unmounted, the empty
 * cgroups the runtime made (`/sys/fs/cgroup/<ctrl>/<namespace>`, `.../unified/<namespace>`,
 * `.../docker`) are removed when they did not exist before, and the temporary directory goes.
 * Whatever is still running when the test process exits is SIGKILLed then.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sleepSync } from './cgroupfs.ts';
import { freePort } from './peers.ts';

/** A short container counts as caught when its exported CPU time is at least this share of its burn. */
export const CAPTURE_CPU_SHARE = 0.8;

/** Intended CPU seconds of short container i: 0.2 … 0.5 s. */
export function burnSeconds(i: number): number {
  return 0.2 + (0.3 * (i % 7)) / 6;
}

/** Intended CPU seconds of short container i for the capture tests at a realistic scrape interval: 0.05 … 0.5 s, in ten steps. */
export function shortBurnSeconds(i: number): number {
  return 0.05 + (0.45 * (i % 10)) / 9;
}

const INSTALL_HINT = 'run `bash scripts/install-peers.sh` (as root) first';
const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An executable on PATH (or an absolute path), or a clear Error naming the package. */
export function requireBin(name: string, pkg: string, candidates: string[] = []): string {
  const dirs = [
    ...candidates,
    ...(process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').map((d) => path.join(d, name)),
  ];
  for (const p of dirs) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new Error(`'${name}' is not installed (package ${pkg}): ${INSTALL_HINT}`);
}

/** Runs a command; never rejects for a non-zero exit (see `code`); SIGKILLs it after `timeoutMs` (code 124). */
export function run(bin: string, args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CmdResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve) => {
    execFile(
      bin,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}),
      },
      (err, stdout, stderr) => {
        let code = 0;
        if (err) {
          const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean; signal?: string };
          code = typeof e.code === 'number' ? e.code : e.killed ? 124 : 127;
          if (e.killed || e.signal) stderr += `\n[killed by ${e.signal ?? 'SIGKILL'} after ${timeoutMs} ms]`;
          else if (typeof e.code !== 'number') stderr += `\n[${String(err)}]`;
        }
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A command-line tool bound to its global flags and environment: `cmd` never rejects for an exit code, `ok` throws one describing the failure. */
export interface BoundCli {
  cmd(args: string[], opts?: { timeoutMs?: number }): Promise<CmdResult>;
  ok(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
}

export function boundCli(bin: string, global: readonly string[], env: Record<string, string>, defaultTimeoutMs: number): BoundCli {
  const cmd = (a: string[], o: { timeoutMs?: number } = {}): Promise<CmdResult> =>
    run(bin, [...global, ...a], { env, timeoutMs: o.timeoutMs ?? defaultTimeoutMs });
  return {
    cmd,
    async ok(a, o) {
      const r = await cmd(a, o);
      if (r.code !== 0) throw new Error(describe(bin, [...global, ...a], r));
      return r.stdout;
    },
  };
}

export function describe(bin: string, args: string[], r: CmdResult): string {
  return `${path.basename(bin)} ${args.join(' ')} exited ${r.code}: ${(r.stderr || r.stdout).trim().slice(-2000)}`;
}

// ------------------------------------------------------------------ processes and leftovers

/** Synchronous last-resort cleanups of the instances not stopped yet, run when the process exits. */
const exitCleanups = new Set<() => void>();
let exitHook = false;
export function onExit(cleanup: () => void): () => void {
  exitCleanups.add(cleanup);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const c of exitCleanups) {
        try {
          c();
        } catch {
          /* best effort */
        }
      }
    });
  }
  return () => exitCleanups.delete(cleanup);
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function killChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  if (await Promise.race([exited.then(() => true), sleep(graceMs, false, { ref: false })])) return;
  child.kill('SIGKILL');
  await Promise.race([exited, sleep(5_000, undefined, { ref: false })]);
}

/** Pids of processes whose command line contains `needle` (shims and daemons this instance left). */
export function pidsWithCmdline(needle: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (
        fs
          .readFileSync(`/proc/${e}/cmdline`, 'latin1')
          .split('\0')
          .some((a) => a.includes(needle))
      )
        out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

export async function killLeftovers(needle: string): Promise<number[]> {
  const pids = pidsWithCmdline(needle);
  killPids(pids);
  if (pids.length > 0) await sleep(200);
  return pids;
}

/** Pids still in `/sys/fs/cgroup/<hierarchy>/<rel>` or below (containers whose shim is gone). */
export function pidsInCgroups(rel: string): number[] {
  const out = new Set<number>();
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const l of fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1').split('\n')) if (l.trim()) out.add(Number(l));
    } catch {
      /* gone */
    }
    for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name));
  };
  for (const h of cgroupHierarchies()) walk(path.join(h, rel));
  out.delete(process.pid);
  return [...out];
}

/** Unmounts (lazily) every mount at or below `dir`, deepest first. */
export function unmountBelow(dir: string): void {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => p !== undefined && (p === dir || p.startsWith(`${dir}/`)))
    .map((p) => p.replace(/\\040/g, ' '))
    .sort((a, b) => b.length - a.length);
  for (const p of new Set(points)) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
}

/** The cgroup hierarchies' roots: /sys/fs/cgroup itself on a pure v2 host, else its mounted subdirectories. */
export function cgroupHierarchies(): string[] {
  if (fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'))) return [CGROUP_ROOT];
  const out: string[] = [];
  for (const e of fs.readdirSync(CGROUP_ROOT, { withFileTypes: true })) {
    const p = path.join(CGROUP_ROOT, e.name);
    if (!e.isDirectory() || e.isSymbolicLink()) continue;
    if (fs.existsSync(path.join(p, 'cgroup.procs'))) out.push(p);
  }
  return out;
}

/** Which of `/sys/fs/cgroup/<hierarchy>/<rel>` exist now (to leave alone what was there before). */
export function existingCgroups(rel: string): Set<string> {
  const out = new Set<string>();
  for (const h of cgroupHierarchies()) {
    const d = path.join(h, rel);
    if (fs.existsSync(d)) out.add(d);
  }
  return out;
}

/** rmdir of a cgroup and its empty descendants, leaves first; populated ones stay (EBUSY). */
export function removeCgroupTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  try {
    fs.rmdirSync(dir);
  } catch {
    /* populated, or gone */
  }
}

/** Removes `/sys/fs/cgroup/<hierarchy>/<rel>` (and empty children) where it was not in `before`. */
export function removeCgroupsMadeSince(rel: string, before: Set<string>): void {
  for (const h of cgroupHierarchies()) {
    const d = path.join(h, rel);
    if (!before.has(d) && fs.existsSync(d)) removeCgroupTree(d);
  }
}

export async function waitUntil(what: string, check: () => Promise<string | true>, timeoutMs: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!isRunning(child))
      throw new Error(`${what}: the daemon exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready; its log:\n${log()}`);
    const r = await check();
    if (r === true) return;
    last = r;
    await sleep(200);
  }
  throw new Error(`${what}: not ready within ${timeoutMs} ms (last: ${last}); its log:\n${log()}`);
}

export function tail(file: string, n = 8000): string {
  try {
    const t = fs.readFileSync(file, 'utf8');
    return t.slice(-n);
  } catch {
    return '(no log)';
  }
}

// ------------------------------------------------------------------ busybox rootfs

export interface BusyboxRootfs {
  /** The rootfs directory (for `ctr run --rootfs DIR`). */
  root: string;
  remove(): Promise<void>;
}

/** A busybox rootfs: /bin/busybox (static) with its applets linked in /bin, and empty proc dev sys tmp etc. */
export async function makeBusyboxRootfs(): Promise<BusyboxRootfs> {
  const busybox = requireBin('busybox', 'busybox-static', ['/bin/busybox']);
  const file = spawnSync('file', ['-L', busybox], { encoding: 'utf8' });
  if (file.status === 0 && /dynamically linked/.test(file.stdout))
    throw new Error(`${busybox} is dynamically linked: install busybox-static (${INSTALL_HINT})`);
  const dir = await mkdtemp(path.join(tmpdir(), 'ocm-rootfs-'));
  const root = path.join(dir, 'rootfs');
  try {
    fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
    fs.copyFileSync(busybox, path.join(root, 'bin/busybox'));
    fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
    const r = spawnSync('chroot', [root, '/bin/busybox', '--install', '-s', '/bin'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`chroot ${root} /bin/busybox --install -s /bin failed (${r.status}): ${r.stderr}${r.error ? String(r.error) : ''}`);
    for (const d of ['proc', 'dev', 'sys', 'tmp', 'etc']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.chmodSync(path.join(root, 'tmp'), 0o1777);
    if (!fs.existsSync(path.join(root, 'bin/sh'))) throw new Error(`busybox --install made no /bin/sh in ${root}`);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  let removed: Promise<void> | undefined;
  return {
    root,
    remove: () =>
      (removed ??= (async () => {
        unmountBelow(dir);
        await rm(dir, { recursive: true, force: true });
      })()),
  };
}

// ------------------------------------------------------------------ containerd

export interface Containerd {
  /** The gRPC socket (`ctr -a SOCKET`). */
  socket: string;
  /** containerd's own metrics page, `http://127.0.0.1:<port>/v1/metrics`. */
  metricsUrl: string;
  /** `host:port` of the metrics endpoint. */
  metricsAddress: string;
  /** The temporary directory holding config, root, state, socket and log. */
  dir: string;
  /** `ctr -a SOCKET ARGS` (give `-n NAMESPACE` in ARGS; its cgroups are cleaned up by stop()). */
  ctr(args: string[], opts?: { timeoutMs?: number }): Promise<CmdResult>;
  /** Like ctr(), but throws on a non-zero exit. */
  ctrOk(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** Registers a namespace for cleanup (ctr() does this for `-n NS` by itself). */
  useNamespace(ns: string): void;
  /** The tail of containerd's log. */
  log(): string;
  /** Stops the daemon (SIGTERM) and starts it again on the same config, root and state (e.g. so that the CRI plugin loads images imported with ctr). */
  restart(): Promise<void>;
  /** Deletes the containers of the used namespaces, kills containerd (by pid) and its shims, removes the cgroups and the directory. */
  stop(): Promise<void>;
}

const RUNC_STATE = '/run/containerd/runc';

export interface ContainerdOptions {
  /**
   * TOML for containerd's CRI plugin (`[plugins."io.containerd.grpc.v1.cri"]` and its tables):
   * given, the plugin is left enabled and configured with it (see test/helpers/cri.ts);
   * absent, the plugin is disabled.
   */
  criConfig?: string;
}

/** A private containerd on its own socket and a free metrics port, with the CRI plugin disabled unless `criConfig` is given. */
export async function startContainerd(options: ContainerdOptions = {}): Promise<Containerd> {
  const containerd = requireBin('containerd', 'containerd');
  const ctrBin = requireBin('ctr', 'containerd');
  requireBin('runc', 'runc');
  requireBin('containerd-shim-runc-v2', 'containerd');
  const dir = await mkdtemp(path.join(tmpdir(), 'ocm-ctrd-'));
  const socket = path.join(dir, 'containerd.sock');
  const logFile = path.join(dir, 'containerd.log');
  const port = await freePort();
  const metricsAddress = `127.0.0.1:${port}`;
  const config = [
    'version = 2',
    `root = ${JSON.stringify(path.join(dir, 'root'))}`,
    `state = ${JSON.stringify(path.join(dir, 'state'))}`,
    ...(options.criConfig === undefined ? ['disabled_plugins = ["io.containerd.grpc.v1.cri"]'] : []),
    '',
    '[grpc]',
    `  address = ${JSON.stringify(socket)}`,
    '',
    '[metrics]',
    `  address = ${JSON.stringify(metricsAddress)}`,
    '',
    ...(options.criConfig === undefined ? [] : [options.criConfig, '']),
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'config.toml'), config);
  const launch = (): ChildProcess => {
    const logFd = fs.openSync(logFile, 'a');
    const daemon = spawn(containerd, ['--config', path.join(dir, 'config.toml')], { cwd: dir, stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    return daemon;
  };
  let child = launch();
  const log = (): string => tail(logFile);

  /** Namespace → cgroup directories (and runc state directory) that existed before its first use. */
  const namespaces = new Map<string, { cgroups: Set<string>; runcState: boolean }>();
  const useNamespace = (ns: string): void => {
    if (!namespaces.has(ns)) namespaces.set(ns, { cgroups: existingCgroups(ns), runcState: fs.existsSync(path.join(RUNC_STATE, ns)) });
  };
  const ctr = (args: string[], opts: { timeoutMs?: number } = {}): Promise<CmdResult> => {
    for (let i = 0; i < args.length - 1; i++) if (args[i] === '-n' || args[i] === '--namespace') useNamespace(args[i + 1] as string);
    for (const a of args) if (a.startsWith('--namespace=')) useNamespace(a.slice('--namespace='.length));
    return run(ctrBin, ['-a', socket, ...args], opts);
  };
  const ctrOk = async (args: string[], opts: { timeoutMs?: number } = {}): Promise<string> => {
    const r = await ctr(args, opts);
    if (r.code !== 0) throw new Error(describe(ctrBin, ['-a', socket, ...args], r));
    return r.stdout;
  };

  /** What stop() does after the daemon is gone; synchronous, also the exit hook's last resort. */
  const cleanupAfterDaemon = (): void => {
    // Shims name the daemon's socket in their command line (-address SOCK); a container whose
    // shim is gone keeps running: its processes are found in its cgroups.
    killPids(pidsWithCmdline(socket));
    for (const ns of namespaces.keys()) killPids(pidsInCgroups(ns));
    if (namespaces.size > 0) sleepSync(100);
    unmountBelow(dir);
    for (const [ns, before] of namespaces) {
      removeCgroupsMadeSince(ns, before.cgroups);
      if (!before.runcState) removeCgroupTree(path.join(RUNC_STATE, ns)); // plain empty directories: rmdir only
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const forgetExit = onExit(() => {
    child.kill('SIGKILL');
    sleepSync(100);
    cleanupAfterDaemon();
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (isRunning(child)) {
        for (const ns of namespaces.keys()) {
          const tasks = await ctr(['-n', ns, 'task', 'ls', '-q'], { timeoutMs: 10_000 });
          for (const id of tasks.stdout.split('\n').filter(Boolean)) {
            await ctr(['-n', ns, 'task', 'kill', '-s', 'SIGKILL', id], { timeoutMs: 10_000 });
            await ctr(['-n', ns, 'task', 'delete', '-f', id], { timeoutMs: 10_000 });
          }
          const cs = await ctr(['-n', ns, 'container', 'ls', '-q'], { timeoutMs: 10_000 });
          for (const id of cs.stdout.split('\n').filter(Boolean)) await ctr(['-n', ns, 'container', 'rm', id], { timeoutMs: 10_000 });
        }
      }
      await killChild(child, 5_000);
      if ((await killLeftovers(socket)).length > 0) await sleep(200);
      cleanupAfterDaemon();
      forgetExit();
    })());

  const ready = (): Promise<void> =>
    waitUntil(
      'containerd',
      async () => {
        if (!fs.existsSync(socket)) return `no socket ${socket} yet`;
        const r = await run(ctrBin, ['-a', socket, 'version'], { timeoutMs: 5_000 });
        return r.code === 0 ? true : describe(ctrBin, ['-a', socket, 'version'], r);
      },
      30_000,
      child,
      log,
    );
  // The containers keep running under their shims; the new daemon reconnects to them.
  const restart = async (): Promise<void> => {
    await killChild(child, 5_000);
    child = launch();
    await ready();
  };

  try {
    await ready();
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, metricsUrl: `http://${metricsAddress}/v1/metrics`, metricsAddress, dir, ctr, ctrOk, useNamespace, log, restart, stop };
}

// ------------------------------------------------------------------ dockerd

export interface Dockerd {
  /** The API socket path. */
  socket: string;
  /** `unix://SOCKET` for `docker -H`. */
  host: string;
  /** The docker CLI in use. */
  dockerBin: string;
  /** The image the busybox rootfs was imported as. */
  image: string;
  /** `docker -H HOST ARGS`. */
  docker(args: string[], opts?: { timeoutMs?: number }): Promise<CmdResult>;
  /** Like docker(), but throws on a non-zero exit. */
  dockerOk(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  log(): string;
  /** Removes every container, stops dockerd (by pid), kills what it left, removes cgroups and directories. */
  stop(): Promise<void>;
}

export interface DockerdOptions {
  /** Use this containerd (its socket) instead of the one dockerd starts by itself. */
  containerdSocket?: string;
  /** A rootfs to import as `local/busybox` (default: one made and removed here). */
  rootfs?: string;
}

/** The docker CLI: Debian's docker.io client (/usr/bin/docker) first, else the first on PATH. */
function dockerCli(): string {
  return requireBin('docker', 'docker.io', ['/usr/bin/docker']);
}

/** A private dockerd (no iptables, no bridge) with a busybox rootfs imported as `local/busybox`. */
export async function startDockerd(containerdSocketOrOptions?: string | DockerdOptions): Promise<Dockerd> {
  const opts: DockerdOptions =
    typeof containerdSocketOrOptions === 'string' ? { containerdSocket: containerdSocketOrOptions } : (containerdSocketOrOptions ?? {});
  const dockerd = requireBin('dockerd', 'docker.io');
  const dockerBin = dockerCli();
  const dir = await mkdtemp(path.join(tmpdir(), 'ocm-dockerd-'));
  const socket = path.join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  const logFile = path.join(dir, 'dockerd.log');
  const dockerCgroupsBefore = existingCgroups('docker');
  const args = [
    '--data-root',
    path.join(dir, 'data'),
    '--exec-root',
    path.join(dir, 'exec'),
    '--pidfile',
    path.join(dir, 'dockerd.pid'),
    '-H',
    host,
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    ...(opts.containerdSocket ? [`--containerd=${opts.containerdSocket}`] : []),
  ];
  const logFd = fs.openSync(logFile, 'a');
  // DOCKER_CONFIG keeps the CLI's config (and the daemon's) away from ~/.docker.
  const child = spawn(dockerd, args, { cwd: dir, stdio: ['ignore', logFd, logFd], env: { ...process.env, DOCKER_CONFIG: path.join(dir, 'cli') } });
  fs.closeSync(logFd);
  const log = (): string => tail(logFile);
  const env = { DOCKER_CONFIG: path.join(dir, 'cli') };
  const { cmd: docker, ok: dockerOk } = boundCli(dockerBin, ['-H', host], env, 120_000);
  let ownRootfs: BusyboxRootfs | undefined;
  /** Container ids this dockerd ran (`docker run --cidfile`/ps), whose cgroups may need their processes killed. */
  const seen = new Set<string>();
  const cleanupAfterDaemon = (): void => {
    // dockerd's own containerd and the shims name the exec-root or data-root in their command lines.
    killPids(pidsWithCmdline(dir));
    for (const id of seen) killPids(pidsInCgroups(`docker/${id}`));
    sleepSync(100);
    unmountBelow(dir);
    removeCgroupsMadeSince('docker', dockerCgroupsBefore);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const forgetExit = onExit(() => {
    if (isRunning(child)) {
      const ps = spawnSync(dockerBin, ['-H', host, 'ps', '-aq', '--no-trunc'], { encoding: 'utf8', timeout: 5_000, env: { ...process.env, ...env } });
      for (const id of (ps.stdout ?? '').split('\n').filter(Boolean)) seen.add(id);
    }
    child.kill('SIGKILL');
    sleepSync(100);
    cleanupAfterDaemon();
    if (ownRootfs) fs.rmSync(path.dirname(ownRootfs.root), { recursive: true, force: true });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (isRunning(child)) {
        const ids = await docker(['ps', '-aq', '--no-trunc'], { timeoutMs: 20_000 });
        const list = ids.stdout.split('\n').filter(Boolean);
        for (const id of list) seen.add(id);
        if (list.length > 0) await docker(['rm', '-f', ...list], { timeoutMs: 60_000 });
      }
      await killChild(child, 15_000);
      if ((await killLeftovers(dir)).length > 0) await sleep(200);
      cleanupAfterDaemon();
      await ownRootfs?.remove();
      forgetExit();
    })());

  const image = 'local/busybox';
  try {
    await waitUntil(
      'dockerd',
      async () => {
        if (!fs.existsSync(socket)) return `no socket ${socket} yet`;
        const r = await docker(['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 10_000 });
        return r.code === 0 ? true : describe(dockerBin, ['info'], r);
      },
      60_000,
      child,
      log,
    );
    let rootfs = opts.rootfs;
    if (!rootfs) {
      ownRootfs = await makeBusyboxRootfs();
      rootfs = ownRootfs.root;
    }
    // tar -C ROOT -c . | docker -H HOST import - local/busybox
    const imp = spawnSync('bash', ['-c', 'set -o pipefail; tar -C "$1" -c . | "$2" -H "$3" import - "$4"', '_', rootfs, dockerBin, host, image], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    if (imp.status !== 0) throw new Error(`docker import of ${rootfs} failed (${imp.status}): ${imp.stderr}${imp.error ? String(imp.error) : ''}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, host, dockerBin, image, docker, dockerOk, log, stop };
}

// ------------------------------------------------------------------ small shared tools

/** Runs `jobs` with at most `concurrency` at a time; results in input order. */
export async function pool<T, R>(items: readonly T[], concurrency: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await job(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}

/** Counts of each value, most frequent first (`populated/read=198 populated/young=2`), for the runtime tests' printed lines. */
export function tally(values: Iterable<string>): string {
  const t = new Map<string, number>();
  for (const v of values) t.set(v, (t.get(v) ?? 0) + 1);
  return (
    [...t]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k}=${n}`)
      .join(' ') || '(none)'
  );
}

/** A short random suffix for namespaces and ids. */
export function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

// ------------------------------------------------------------------ CPU burn of a known size

export interface BurnCalibration {
  /** CPU nanoseconds one loop iteration took (the least of the calibration runs: burns come out at least as long). */
  nsPerIteration: number;
  /** The runs: iterations and CPU ns each. */
  runs: Array<{ iterations: number; cpuNs: number }>;
  /** Iterations for `cpuSeconds` of CPU. */
  iterations(cpuSeconds: number): number;
  /** A busybox `sh -c` script that burns about `cpuSeconds` of CPU (arithmetic in a while loop; no date, no PATH needed). */
  script(cpuSeconds: number): string;
}

export function burnScript(iterations: number): string {
  return `i=0; while [ $i -lt ${iterations} ]; do i=$((i+1)); done`;
}

/**
 * Measures the CPU time of the busybox shell loop used as a burn: runs it in a cgroup of its own
 * (v1 cpuacct, or cgroup2) and reads the cgroup's CPU usage, which is what the agent exports.
 */
export async function calibrateBurn(runs = 3, iterations = 300_000): Promise<BurnCalibration> {
  const busybox = requireBin('busybox', 'busybox-static', ['/bin/busybox']);
  const v2 = fs.existsSync(path.join(CGROUP_ROOT, 'cgroup.controllers'));
  const base = v2 ? CGROUP_ROOT : path.join(CGROUP_ROOT, 'cpuacct');
  if (!fs.existsSync(base)) throw new Error(`no cpuacct hierarchy at ${base} and no cgroup2 at ${CGROUP_ROOT}`);
  const dir = path.join(base, `ocm-calibrate-${process.pid}-${randomSuffix()}`);
  fs.mkdirSync(dir);
  const out: BurnCalibration['runs'] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const usage = (): number =>
        v2
          ? Number(/^usage_usec (\d+)$/m.exec(fs.readFileSync(path.join(dir, 'cpu.stat'), 'latin1'))?.[1] ?? NaN) * 1000
          : Number(fs.readFileSync(path.join(dir, 'cpuacct.usage'), 'latin1'));
      const before = usage();
      const res = await run(busybox, ['sh', '-c', `echo $$ > ${dir}/cgroup.procs && ${burnScript(iterations)}`], { timeoutMs: 60_000 });
      if (res.code !== 0) throw new Error(`calibration burn failed (${res.code}): ${res.stderr}`);
      out.push({ iterations, cpuNs: usage() - before });
    }
  } finally {
    fs.rmdirSync(dir);
  }
  const nsPerIteration = Math.min(...out.map((r) => r.cpuNs / r.iterations));
  if (!(nsPerIteration > 0)) throw new Error(`calibration measured no CPU: ${JSON.stringify(out)}`);
  const iterationsFor = (s: number): number => Math.ceil((s * 1e9) / nsPerIteration);
  return { nsPerIteration, runs: out, iterations: iterationsFor, script: (s) => burnScript(iterationsFor(s)) };
}

// ------------------------------------------------------------------ Prometheus text

export interface ExpositionSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition page (comments skipped; enough for these tests). */
export function parseExposition(text: string): ExpositionSample[] {
  const out: ExpositionSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l = re.exec(m[2] ?? ''); l; l = re.exec(m[2] ?? ''))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}
