/**
 * Semantic-convention attributes from what the gRPC runtimes report in common: the labels kubelet
 * puts on every container it creates through the CRI (which containerd's CRI plugin copies onto
 * its own container records), and image references. The CRI and the containerd source use both.
 */
import type { Attributes } from '@opentelemetry/api';
import { parseImageRef } from './image-ref.ts';

/** Label → attribute: the pod and container a container belongs to, by name. */
const KUBERNETES_LABELS: ReadonlyArray<readonly [string, string]> = [
  ['io.kubernetes.pod.name', 'k8s.pod.name'],
  ['io.kubernetes.pod.namespace', 'k8s.namespace.name'],
  ['io.kubernetes.pod.uid', 'k8s.pod.uid'],
  ['io.kubernetes.container.name', 'k8s.container.name'],
];

/** The k8s.* attributes the labels give; a missing or empty label gives none. */
export function kubernetesAttributes(labels: Readonly<Record<string, string>>): Attributes {
  const out: Attributes = {};
  for (const [label, attribute] of KUBERNETES_LABELS) {
    const value = labels[label];
    if (value) out[attribute] = value;
  }
  return out;
}

/** `container.image.name` and `container.image.tags` of an image reference; none for an empty one. */
export function imageAttributes(ref: string | undefined): Attributes {
  if (!ref) return {};
  const { name, tag } = parseImageRef(ref);
  return { 'container.image.name': name, ...(tag ? { 'container.image.tags': [tag] } : {}) };
}

/** A decoded protobuf map<string, string> (absent when empty) as a plain record, string values only. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === null || typeof value !== 'object') return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** A decoded int64 of nanoseconds since the epoch (a decimal string) as ms, to the microsecond; undefined when unset or 0. */
export function nanosToMs(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined;
  const micros = BigInt(value) / 1000n;
  return micros > 0n ? Number(micros) / 1000 : undefined;
}
