/**
 * containerd's own API as a metadata source: `containerd.services.containers.v1.Containers/Get`
 * in the task's containerd namespace (`ctr`, nerdctl, and the records of containerd's CRI
 * plugin in `k8s.io`). A container record has its image reference and labels but no start time
 * (only `created_at`, which is not when the task started), so the caller falls back to the
 * process's start.
 */
import type { Attributes } from '@opentelemetry/api';
import { createGrpcClient, loadGrpcService } from './grpc.ts';
import { imageAttributes, kubernetesAttributes, stringMap } from './runtime-attributes.ts';
import type { ContainerMetadata, LookupTask, MetadataSource, MetadataSourceDefinition } from './source.ts';
import { MetadataLookupError } from './source.ts';

const SOURCE = 'containerd';
const PROTO = 'containerd/containers.proto';
const SERVICE = 'containerd.services.containers.v1.Containers';
/** The gRPC header containerd takes the namespace of a call from. */
const NAMESPACE_HEADER = 'containerd-namespace';
/** nerdctl's label with the name the user gave (`nerdctl run --name`). */
const NERDCTL_NAME = 'nerdctl/name';
/** containerd's CRI plugin marks pod sandboxes' records with this label and value. */
const CRI_KIND = 'io.cri-containerd.kind';
const CRI_SANDBOX = 'sandbox';

/** The fields of `Container` this source reads, as decoded (absent when unset). */
export interface ContainerRecord {
  readonly id?: string;
  readonly labels?: Record<string, string>;
  readonly image?: string;
  readonly runtime?: { readonly name?: string };
}

/** A container record → the container's metadata. */
export function fromContainerRecord(container: ContainerRecord): ContainerMetadata {
  const labels = stringMap(container.labels);
  const k8s = kubernetesAttributes(labels);
  const attributes: Attributes = { 'container.runtime.name': SOURCE, ...imageAttributes(container.image), ...k8s };
  // nerdctl's name when it ran the container; kubelet's container name for the CRI plugin's records.
  const name = labels[NERDCTL_NAME] || k8s['k8s.container.name'];
  if (name) attributes['container.name'] = name;
  return { attributes, labels, sandbox: labels[CRI_KIND] === CRI_SANDBOX };
}

function createContainerdSource(endpoint: string): MetadataSource {
  const client = createGrpcClient(SOURCE, endpoint, loadGrpcService(PROTO, SERVICE));
  return {
    name: SOURCE,
    async lookup(task: LookupTask, signal: AbortSignal): Promise<ContainerMetadata | undefined> {
      const res = await client.call<{ container?: ContainerRecord }>('Get', { id: task.id }, signal, { [NAMESPACE_HEADER]: task.namespace });
      if (res === undefined) return undefined;
      if (!res.container) throw new MetadataLookupError(SOURCE, 'protocol', `Get of ${task.namespace}/${task.id} answered no container`);
      return fromContainerRecord(res.container);
    },
    close: () => client.close(),
  };
}

export const containerdSource: MetadataSourceDefinition = {
  name: SOURCE,
  layouts: ['containerd'],
  defaultEndpoint: '/run/containerd/containerd.sock',
  description: "containerd's API (Containers/Get per namespace: ctr, nerdctl): image, labels, nerdctl's name",
  create: createContainerdSource,
};
