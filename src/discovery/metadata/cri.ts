/**
 * The Kubernetes CRI (`runtime.v1.RuntimeService`) as a metadata source: what kubelet itself
 * sees of a container, from containerd's CRI plugin or CRI-O (`/var/run/crio/crio.sock`).
 * ContainerStatus names a workload container; an id it does not know is asked of
 * PodSandboxStatus, since the cgroup of a pod sandbox (pause or infra container) sits beside
 * its containers' and looks the same.
 */
import type { Attributes } from '@opentelemetry/api';
import { createGrpcClient, type GrpcUnaryClient, loadGrpcService } from './grpc.ts';
import { imageAttributes, kubernetesAttributes, nanosToMs, stringMap } from './runtime-attributes.ts';
import type { ContainerMetadata, LookupTask, MetadataSource, MetadataSourceDefinition } from './source.ts';
import { MetadataLookupError } from './source.ts';

const SOURCE = 'cri';
const PROTO = 'cri/api.proto';
const SERVICE = 'runtime.v1.RuntimeService';
/** An image id, which some runtimes report in place of a reference when the image has no tag. */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/** The fields of `ContainerStatus` this source reads, as decoded (absent when unset; int64 as decimal strings). */
export interface CriContainerStatus {
  readonly id?: string;
  readonly metadata?: { readonly name?: string };
  readonly started_at?: string;
  readonly image?: { readonly image?: string; readonly user_specified_image?: string };
  readonly labels?: Record<string, string>;
}

/** The fields of `PodSandboxStatus` this source reads. */
export interface CriPodSandboxStatus {
  readonly id?: string;
  readonly metadata?: { readonly name?: string; readonly uid?: string; readonly namespace?: string };
  readonly labels?: Record<string, string>;
}

/**
 * The reference to name the image by: `image.image` (containerd reports the image's first tag,
 * CRI-O the reference the container was created with), unless it is a bare image id and the
 * runtime also kept the reference the user wrote.
 */
function imageReference(image: CriContainerStatus['image']): string | undefined {
  const ref = image?.image;
  if (ref && IMAGE_ID.test(ref) && image?.user_specified_image) return image.user_specified_image;
  return ref;
}

/** A ContainerStatus → the container's metadata; `runtime` is the runtime's own name (Version's runtime_name), when known. */
export function fromContainerStatus(status: CriContainerStatus, runtime: string | undefined): ContainerMetadata {
  const labels = stringMap(status.labels);
  const attributes: Attributes = { ...imageAttributes(imageReference(status.image)), ...kubernetesAttributes(labels) };
  if (runtime) attributes['container.runtime.name'] = runtime;
  const name = status.metadata?.name;
  if (name) {
    attributes['container.name'] = name;
    // CRI's container name is the pod spec's container name, which the label also carries.
    attributes['k8s.container.name'] ??= name;
  }
  const startTimeMs = nanosToMs(status.started_at);
  // No started_at yet: the container is created and its start under way (or failed).
  return { attributes, labels, ...(startTimeMs !== undefined ? { startTimeMs } : { startPending: true }), sandbox: false };
}

/** A PodSandboxStatus → the sandbox's metadata: the pod's names, no container name. */
export function fromPodSandboxStatus(status: CriPodSandboxStatus, runtime: string | undefined): ContainerMetadata {
  const labels = stringMap(status.labels);
  const attributes: Attributes = { ...kubernetesAttributes(labels) };
  const pod = status.metadata;
  if (pod?.name) attributes['k8s.pod.name'] = pod.name;
  if (pod?.namespace) attributes['k8s.namespace.name'] = pod.namespace;
  if (pod?.uid) attributes['k8s.pod.uid'] = pod.uid;
  if (runtime) attributes['container.runtime.name'] = runtime;
  return { attributes, labels, sandbox: true };
}

/**
 * The runtime's name from Version (`containerd`, `cri-o`), asked once per source; a failed ask
 * is not remembered, so the next lookup asks again.
 */
function runtimeNameOnce(client: GrpcUnaryClient): (signal: AbortSignal) => Promise<string | undefined> {
  let name: string | undefined;
  return async (signal) => {
    if (name !== undefined) return name;
    try {
      const res = await client.call<{ runtime_name?: string }>('Version', { version: 'v1' }, signal);
      name = res?.runtime_name || '';
    } catch {
      return undefined; // the lookup's own call reports what is wrong
    }
    return name || undefined;
  };
}

function createCriSource(endpoint: string): MetadataSource {
  const client = createGrpcClient(SOURCE, endpoint, loadGrpcService(PROTO, SERVICE));
  const runtimeName = runtimeNameOnce(client);
  return {
    name: SOURCE,
    async lookup(task: LookupTask, signal: AbortSignal): Promise<ContainerMetadata | undefined> {
      const container = await client.call<{ status?: CriContainerStatus }>('ContainerStatus', { container_id: task.id }, signal);
      if (container !== undefined) {
        if (!container.status) throw new MetadataLookupError(SOURCE, 'protocol', `ContainerStatus of ${task.id} answered no status`);
        return fromContainerStatus(container.status, await runtimeName(signal));
      }
      const sandbox = await client.call<{ status?: CriPodSandboxStatus }>('PodSandboxStatus', { pod_sandbox_id: task.id }, signal);
      if (sandbox === undefined) return undefined;
      if (!sandbox.status) throw new MetadataLookupError(SOURCE, 'protocol', `PodSandboxStatus of ${task.id} answered no status`);
      return fromPodSandboxStatus(sandbox.status, await runtimeName(signal));
    },
    close: () => client.close(),
  };
}

export const criSource: MetadataSourceDefinition = {
  name: SOURCE,
  layouts: ['kubernetes'],
  defaultEndpoint: '/run/containerd/containerd.sock',
  description: "the Kubernetes CRI, runtime.v1 (containerd's CRI plugin; CRI-O at /var/run/crio/crio.sock): pod name, namespace, uid, container name, image",
  create: createCriSource,
};
