/**
 * containerd's CRI plugin, driven as kubelet drives it, for tests that need Kubernetes-shaped
 * containers without a cluster or a registry:
 *
 *   const cri = await startCriContainerd();            // private containerd, CRI on, images imported
 *   after(() => cri.stop());                           // pods, containers, cgroups, daemon, files
 *   const pod = await cri.runPod({ name: 'web', namespace: 'shop', containers: [{ name: 'app', command: ['/bin/sleep', '600'] }] });
 *   pod.sandboxId; pod.containers[0].id;               // CRI ids = containerd ids = cgroup directory names
 *   pod.cgroupParent;                                  // 'kubepods/besteffort/pod<uid>' (cgroupfs driver layout)
 *   await cri.runContainer(pod, { name: 'job', command: ['/bin/sh', '-c', 'exit 0'] });  // one more, later
 *   await cri.stopPod(pod);                            // StopPodSandbox + RemovePodSandbox
 *
 * RunPodSandbox gets host networking (no CNI here) and `linux.cgroup_parent =
 * /kubepods/besteffort/pod<uid>`; the pod's and containers' labels are kubelet's
 * (`io.kubernetes.pod.name`, `…pod.namespace`, `…pod.uid`, `…container.name`). The images are
 * docker-archive tarballs of the busybox rootfs (`ocm.test/busybox:1.36`, and the sandbox image
 * `ocm.test/pause:3.9` whose command sleeps), loaded with `ctr -n k8s.io images import`. The CRI
 * client is built on the package's own trimmed proto/cri/api.proto.
 *
 * stop() may be called any number of times and also runs when the process exits: it stops and
 * removes every pod still there, stops containerd (runtimes.ts: shims, mounts, directory), kills
 * whatever is left in the pods' cgroups and removes the cgroups this instance made.
 * Recipe: ../shared/design/real-peers.md ("containerd's CRI, driven as kubelet drives it").
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { createGrpcClient, type GrpcUnaryClient, loadGrpcService } from '../../src/discovery/metadata/grpc.ts';
import { sleepSync } from './cgroupfs.ts';
import {
  type Containerd,
  cgroupHierarchies,
  existingCgroups,
  killPids,
  makeBusyboxRootfs,
  onExit,
  pidsInCgroups,
  removeCgroupTree,
  removeCgroupsMadeSince,
  startContainerd,
} from './runtimes.ts';

/** containerd's namespace for everything its CRI plugin makes. */
export const CRI_NAMESPACE = 'k8s.io';
/** The workload image every container runs unless its spec names another. */
export const BUSYBOX_IMAGE = 'ocm.test/busybox:1.36';
/** The sandbox ("pause") image: the busybox rootfs whose command sleeps. */
export const PAUSE_IMAGE = 'ocm.test/pause:3.9';
/** How long one CRI call may take (image unpack and runc start included). */
const CALL_MS = 60_000;

export interface ContainerSpec {
  /** The pod spec's container name (`metadata.name`, label `io.kubernetes.container.name`). */
  name: string;
  /** Default BUSYBOX_IMAGE. */
  image?: string;
  /** The full command (the image's command is `/bin/sh`); the container has no PATH, so use absolute paths. */
  command: string[];
  labels?: Record<string, string>;
}

export interface PodSpec {
  name: string;
  /** Default `default`. */
  namespace?: string;
  /** Default a random UUID. */
  uid?: string;
  containers: ContainerSpec[];
}

export interface RunningContainer {
  name: string;
  /** The CRI container id (64 hex): also containerd's id and the cgroup directory's name. */
  id: string;
  image: string;
  /** `<pod.cgroupParent>/<id>`, relative to a hierarchy's root. */
  cgroupPath: string;
}

export interface RunningPod {
  name: string;
  namespace: string;
  uid: string;
  sandboxId: string;
  /** `kubepods/besteffort/pod<uid>`, relative to a hierarchy's root; the sandbox's cgroup is `<cgroupParent>/<sandboxId>`. */
  cgroupParent: string;
  containers: RunningContainer[];
}

export interface CriContainerd {
  /** The daemon (socket, ctr, log): containerd's API and the CRI share its socket. */
  containerd: Containerd;
  /** The CRI client (runtime.v1.RuntimeService) on the socket. */
  client: GrpcUnaryClient;
  /** A CRI call that must succeed: rejects on any error and on NOT_FOUND. */
  call<Response>(method: string, request: object): Promise<Response>;
  /** RunPodSandbox, then CreateContainer + StartContainer for each container. */
  runPod(spec: PodSpec): Promise<RunningPod>;
  /** CreateContainer + StartContainer of one more container in the pod (added to `pod.containers`). */
  runContainer(pod: RunningPod, spec: ContainerSpec): Promise<RunningContainer>;
  /** StopContainer (SIGTERM, then SIGKILL after `timeoutS`, default 0: at once) and RemoveContainer. */
  removeContainer(pod: RunningPod, container: RunningContainer, timeoutS?: number): Promise<void>;
  /** StopPodSandbox + RemovePodSandbox (which removes the pod's containers too). */
  stopPod(pod: RunningPod): Promise<void>;
  /** Imports a docker-archive tarball into k8s.io (`ctr images import`); the CRI plugin sees it after `containerd.restart()`. */
  importImage(archive: string): Promise<void>;
  /** Makes a docker-archive tarball of the busybox rootfs tagged `repoTag`, whose command is `cmd`; returns its path. */
  buildImage(repoTag: string, cmd: string[]): string;
  stop(): Promise<void>;
}

function dockerArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function tar(args: string[]): void {
  const r = spawnSync('tar', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`tar ${args.join(' ')} failed (${r.status}): ${r.stderr}${r.error ? String(r.error) : ''}`);
}

/**
 * A docker-archive (`docker save` format: manifest.json with RepoTags, the image config, one
 * layer tar) of `rootfs`, written to `<workDir>/<tag>.tar`. `ctr images import` reads it without
 * a registry; the config's `os`/`architecture` are this machine's, so the platform matches.
 */
export function buildImageArchive(workDir: string, rootfs: string, repoTag: string, cmd: string[]): string {
  const stage = fs.mkdtempSync(path.join(workDir, 'image-'));
  const layer = path.join(stage, 'layer.tar');
  tar(['-C', rootfs, '-cf', layer, '.']);
  const diffId = `sha256:${sha256File(layer)}`;
  const config = {
    architecture: dockerArch(),
    os: 'linux',
    created: new Date(0).toISOString(),
    config: { Cmd: cmd, Env: ['PATH=/bin'], WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: new Date(0).toISOString(), created_by: 'otel-cgroup-metrics test/helpers/cri.ts' }],
  };
  const configText = JSON.stringify(config);
  const configName = `${createHash('sha256').update(configText).digest('hex')}.json`;
  fs.writeFileSync(path.join(stage, configName), configText);
  fs.writeFileSync(path.join(stage, 'manifest.json'), JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: ['layer.tar'] }]));
  const archive = path.join(workDir, `${repoTag.replace(/[^a-zA-Z0-9.-]/g, '_')}.tar`);
  tar(['-C', stage, '-cf', archive, 'manifest.json', configName, 'layer.tar']);
  fs.rmSync(stage, { recursive: true, force: true });
  return archive;
}

/** The CRI plugin's configuration: the local sandbox image, no CNI (host-network pods only), and no negative oom_score_adj (refused on this machine). */
function criConfig(): string {
  return [
    '[plugins."io.containerd.grpc.v1.cri"]',
    `  sandbox_image = ${JSON.stringify(PAUSE_IMAGE)}`,
    '  restrict_oom_score_adj = true',
    '  [plugins."io.containerd.grpc.v1.cri".cni]',
    '    bin_dir = ""',
    '    conf_dir = ""',
  ].join('\n');
}

/** kubelet's labels on a pod's sandbox and on each of its containers. */
function podLabels(pod: { name: string; namespace: string; uid: string }): Record<string, string> {
  return { 'io.kubernetes.pod.name': pod.name, 'io.kubernetes.pod.namespace': pod.namespace, 'io.kubernetes.pod.uid': pod.uid };
}

/** The cgroups of a pod, relative to each hierarchy's root (the cgroupfs driver's layout for a best-effort pod). */
function podCgroup(uid: string): string {
  return `kubepods/besteffort/pod${uid}`;
}

/** A private containerd with its CRI plugin on, the busybox and pause images imported into k8s.io, and a CRI client. */
export async function startCriContainerd(): Promise<CriContainerd> {
  const workDir = await mkdtemp(path.join(tmpdir(), 'ocm-cri-'));
  const rootfs = await makeBusyboxRootfs();
  const kubepodsBefore = existingCgroups('kubepods');
  const pods = new Map<string, RunningPod>();

  /** Synchronous: kills what is left in the pods' cgroups and removes the cgroups made here. */
  const cleanupCgroups = (): void => {
    for (const pod of pods.values()) killPids(pidsInCgroups(pod.cgroupParent));
    if (pods.size > 0) sleepSync(100);
    for (const pod of pods.values()) for (const h of cgroupHierarchies()) removeCgroupTree(path.join(h, pod.cgroupParent));
    removeCgroupsMadeSince('kubepods', kubepodsBefore);
    fs.rmSync(workDir, { recursive: true, force: true });
    fs.rmSync(path.dirname(rootfs.root), { recursive: true, force: true });
  };
  const forgetExit = onExit(cleanupCgroups);

  let containerd: Containerd | undefined;
  let client: GrpcUnaryClient | undefined;
  let stopping: Promise<void> | undefined;

  const call = async <Response>(method: string, request: object): Promise<Response> => {
    if (!client) throw new Error('the CRI client is not open');
    const res = await client.call<Response>(method, request, AbortSignal.timeout(CALL_MS));
    if (res === undefined) throw new Error(`CRI ${method}(${JSON.stringify(request)}): NOT_FOUND`);
    return res;
  };

  const stopPod = async (pod: RunningPod): Promise<void> => {
    await call('StopPodSandbox', { pod_sandbox_id: pod.sandboxId });
    await call('RemovePodSandbox', { pod_sandbox_id: pod.sandboxId });
    for (const h of cgroupHierarchies()) removeCgroupTree(path.join(h, pod.cgroupParent));
    pods.delete(pod.sandboxId);
  };

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      if (containerd && client) {
        for (const pod of [...pods.values()]) {
          try {
            await stopPod(pod);
          } catch {
            /* the daemon's stop below kills what is left */
          }
        }
      }
      client?.close();
      await containerd?.stop();
      await rootfs.remove();
      cleanupCgroups();
      forgetExit();
    })());

  try {
    containerd = await startContainerd({ criConfig: criConfig() });
    client = createGrpcClient('cri-test', containerd.socket, loadGrpcService('cri/api.proto', 'runtime.v1.RuntimeService'));
  } catch (err) {
    await stop();
    throw err;
  }
  const daemon = containerd;
  const criClient = client;

  const importImage = async (archive: string): Promise<void> => {
    await daemon.ctrOk(['-n', CRI_NAMESPACE, 'images', 'import', archive], { timeoutMs: 120_000 });
  };
  const buildImage = (repoTag: string, cmd: string[]): string => buildImageArchive(workDir, rootfs.root, repoTag, cmd);

  const runContainer = async (pod: RunningPod, spec: ContainerSpec, sandboxConfig?: object): Promise<RunningContainer> => {
    const image = spec.image ?? BUSYBOX_IMAGE;
    const labels = { ...podLabels(pod), 'io.kubernetes.container.name': spec.name, ...spec.labels };
    const { container_id: id } = await call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod.sandboxId,
      config: { metadata: { name: spec.name, attempt: 0 }, image: { image }, command: spec.command, labels, log_path: `${spec.name}/0.log` },
      sandbox_config: sandboxConfig ?? sandboxConfigOf(pod),
    });
    const container = { name: spec.name, id, image, cgroupPath: `${pod.cgroupParent}/${id}` };
    pod.containers.push(container);
    await call('StartContainer', { container_id: id });
    return container;
  };

  const sandboxConfigOf = (pod: { name: string; namespace: string; uid: string }): object => ({
    metadata: { name: pod.name, uid: pod.uid, namespace: pod.namespace, attempt: 0 },
    log_directory: path.join(workDir, 'pods', `${pod.namespace}_${pod.name}_${pod.uid}`),
    labels: podLabels(pod),
    linux: { cgroup_parent: `/${podCgroup(pod.uid)}`, security_context: { namespace_options: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
  });

  const runPod = async (spec: PodSpec): Promise<RunningPod> => {
    const base = { name: spec.name, namespace: spec.namespace ?? 'default', uid: spec.uid ?? randomUUID() };
    const sandboxConfig = sandboxConfigOf(base);
    const { pod_sandbox_id: sandboxId } = await call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: sandboxConfig });
    const pod: RunningPod = { ...base, sandboxId, cgroupParent: podCgroup(base.uid), containers: [] };
    pods.set(sandboxId, pod);
    for (const c of spec.containers) await runContainer(pod, c, sandboxConfig);
    return pod;
  };

  const removeContainer = async (pod: RunningPod, container: RunningContainer, timeoutS = 0): Promise<void> => {
    await call('StopContainer', { container_id: container.id, timeout: String(timeoutS) });
    await call('RemoveContainer', { container_id: container.id });
    pod.containers = pod.containers.filter((c) => c.id !== container.id);
  };

  try {
    await importImage(buildImage(BUSYBOX_IMAGE, ['/bin/sh']));
    await importImage(buildImage(PAUSE_IMAGE, ['/bin/sleep', '2147483647']));
    // containerd 1.6's CRI plugin does not see images that ctr imports while it runs; it loads
    // every image of k8s.io when it starts.
    await daemon.restart();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    containerd: daemon,
    client: criClient,
    call,
    runPod,
    runContainer: (pod, spec) => runContainer(pod, spec),
    removeContainer,
    stopPod,
    importImage,
    buildImage,
    stop,
  };
}
