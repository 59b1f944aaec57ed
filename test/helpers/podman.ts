/**
 * A private podman for the discovery tests (Debian bookworm's podman 4.3 with conmon, runc and
 * catatonit): every command and the API service (`podman system service`) run with their own
 * `--root`, `--runroot`, `--tmpdir` and network config directory under one temporary directory,
 * and a private containers.conf (CONTAINERS_CONF) that makes them work on a host without systemd:
 *
 * - `cgroup_manager = "cgroupfs"`: containers land at `/sys/fs/cgroup/<ctrl>/libpod_parent/libpod-<id>`
 *   (in a pod: `libpod_parent/<pod id>/libpod-<id>`), conmon at `libpod_parent[/<pod id>]/conmon`;
 * - `events_logger = "file"` (no journald), `netns = "host"` (no CNI network, for pods too);
 * - `default_ulimits`: podman raises RLIMIT_NOFILE/NPROC by default, which runc may not do
 *   without CAP_SYS_RESOURCE (this machine: "error setting rlimit type 7: operation not
 *   permitted"); limits at or below any usual hard limit avoid that.
 *
 * The busybox rootfs is imported as `local/busybox:1.36`, which podman names
 * `localhost/local/busybox:1.36`. Pods' infra containers use podman's own pause image, which it
 * builds locally from catatonit on the first `podman pod create`.
 *
 * `stop()` (any number of times; also on process exit) removes every pod and container, stops
 * the service by its pid, kills what is left (conmon by its command line, which names the
 * temporary directory; container processes by their cgroups), unmounts the storage below the
 * temporary directory, removes the cgroups it made and the directory.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { sleepSync } from './cgroupfs.ts';
import {
  type BusyboxRootfs,
  type CmdResult,
  boundCli,
  existingCgroups,
  isRunning,
  killChild,
  killLeftovers,
  killPids,
  makeBusyboxRootfs,
  onExit,
  pidsInCgroups,
  pidsWithCmdline,
  removeCgroupTree,
  removeCgroupsMadeSince,
  requireBin,
  tail,
  unmountBelow,
  waitUntil,
} from './runtimes.ts';

/** The cgroup parent of the cgroupfs manager, below each hierarchy's root. */
export const PODMAN_CGROUP_PARENT = 'libpod_parent';
/** The busybox image as the test imports it, and as podman names it. */
export const PODMAN_IMAGE = 'local/busybox';
export const PODMAN_IMAGE_NAME = 'localhost/local/busybox';
export const PODMAN_TAG = '1.36';

const CONTAINERS_CONF = `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
netns = "host"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
`;

export interface Podman {
  /** The API socket (`podman system service`). */
  socket: string;
  /** The temporary directory holding storage, state, config, socket and log. */
  dir: string;
  /** `podman <private options> ARGS` (local, not through the service: both share the storage). */
  podman(args: string[], opts?: { timeoutMs?: number }): Promise<CmdResult>;
  /** Like podman(), but throws on a non-zero exit. */
  podmanOk(args: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** The service's log. */
  log(): string;
  /** Removes every pod and container, stops the service, kills and unmounts what is left, removes cgroups and the directory. */
  stop(): Promise<void>;
}

/** GET `urlPath` on a unix socket: the status, or an error message. */
function getStatus(socket: string, urlPath: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ socketPath: socket, path: urlPath, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(err.message));
  });
}

/** A private podman and its API service, with the busybox rootfs imported as `local/busybox:1.36`. */
export async function startPodman(options: { rootfs?: string } = {}): Promise<Podman> {
  const podmanBin = requireBin('podman', 'podman');
  requireBin('conmon', 'conmon');
  requireBin('runc', 'runc');
  requireBin('catatonit', 'catatonit');
  const dir = await mkdtemp(path.join(tmpdir(), 'ocm-podman-'));
  const socket = path.join(dir, 'podman.sock');
  const logFile = path.join(dir, 'service.log');
  const confFile = path.join(dir, 'containers.conf');
  fs.writeFileSync(confFile, CONTAINERS_CONF);
  const cgroupsBefore = existingCgroups(PODMAN_CGROUP_PARENT);
  const global = [
    '--root',
    path.join(dir, 'root'),
    '--runroot',
    path.join(dir, 'run'),
    '--tmpdir',
    path.join(dir, 'tmp'),
    '--network-config-dir',
    path.join(dir, 'net'),
    '--storage-driver',
    'overlay',
  ];
  const env = { CONTAINERS_CONF: confFile };
  const { cmd: podman, ok: podmanOk } = boundCli(podmanBin, global, env, 60_000);

  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(podmanBin, [...global, 'system', 'service', '--time=0', `unix://${socket}`], {
    cwd: dir,
    stdio: ['ignore', logFd, logFd],
    env: { ...process.env, ...env },
  });
  fs.closeSync(logFd);
  const log = (): string => tail(logFile);

  let ownRootfs: BusyboxRootfs | undefined;
  /** Container and pod ids seen, whose cgroups may need their processes killed and removed. */
  const seen = new Set<string>();
  const note = (out: string | undefined): void => {
    for (const id of (out ?? '').split('\n').map((l) => l.trim())) if (/^[0-9a-f]{64}$/.test(id)) seen.add(id);
  };
  const cgroupsOf = (id: string): string[] => [`${PODMAN_CGROUP_PARENT}/libpod-${id}`, `${PODMAN_CGROUP_PARENT}/${id}`];
  const cleanupAfterService = (): void => {
    // conmon (and any `podman container cleanup` it started) name the storage directories.
    killPids(pidsWithCmdline(dir));
    for (const id of seen) for (const rel of cgroupsOf(id)) killPids(pidsInCgroups(rel));
    sleepSync(100);
    unmountBelow(dir);
    removeCgroupsMadeSince(PODMAN_CGROUP_PARENT, cgroupsBefore);
    // A libpod_parent that was there before (another podman's) keeps everything but ours.
    for (const parent of cgroupsBefore) for (const id of seen) for (const d of [`libpod-${id}`, id]) removeCgroupTree(path.join(parent, d));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const listSync = (): void => {
    for (const a of [
      ['ps', '-aq', '--no-trunc'],
      ['pod', 'ps', '-q', '--no-trunc'],
    ])
      note(spawnSync(podmanBin, [...global, ...a], { encoding: 'utf8', timeout: 5_000, env: { ...process.env, ...env } }).stdout);
  };
  const forgetExit = onExit(() => {
    listSync();
    child.kill('SIGKILL');
    sleepSync(100);
    cleanupAfterService();
    if (ownRootfs) fs.rmSync(path.dirname(ownRootfs.root), { recursive: true, force: true });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      note((await podman(['ps', '-aq', '--no-trunc'], { timeoutMs: 20_000 })).stdout);
      note((await podman(['pod', 'ps', '-q', '--no-trunc'], { timeoutMs: 20_000 })).stdout);
      await podman(['pod', 'rm', '-af', '-t', '0'], { timeoutMs: 60_000 });
      await podman(['rm', '-af', '-t', '0'], { timeoutMs: 60_000 });
      await killChild(child, 10_000);
      await killLeftovers(dir);
      cleanupAfterService();
      await ownRootfs?.remove();
      forgetExit();
    })());

  try {
    await waitUntil(
      'podman system service',
      async () => {
        if (!fs.existsSync(socket)) return `no socket ${socket} yet`;
        const status = await getStatus(socket, '/v4.0.0/libpod/_ping');
        return status === 200 ? true : `GET /v4.0.0/libpod/_ping: ${status}`;
      },
      30_000,
      child,
      log,
    );
    let rootfs = options.rootfs;
    if (!rootfs) {
      ownRootfs = await makeBusyboxRootfs();
      rootfs = ownRootfs.root;
    }
    // tar -C ROOT -c . | podman import - local/busybox:1.36
    const imp = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; r="$1" i="$2"; shift 2; tar -C "$r" -c . | "$@" import - "$i"',
        '_',
        rootfs,
        `${PODMAN_IMAGE}:${PODMAN_TAG}`,
        podmanBin,
        ...global,
      ],
      { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 },
    );
    if (imp.status !== 0) throw new Error(`podman import of ${rootfs} failed (${imp.status}): ${imp.stderr}${imp.error ? String(imp.error) : ''}`);
    if (!isRunning(child)) throw new Error(`podman system service exited: ${log()}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, dir, podman, podmanOk, log, stop };
}
