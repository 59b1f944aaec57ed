/**
 * The Docker Engine API as a metadata source (`GET /containers/<id>/json`), and what podman's
 * source (`podman.ts`, its own libpod API) shares with it: reading an inspect answer and a
 * source that GETs one JSON document per container over a unix socket.
 */
import type { Attributes } from '@opentelemetry/api';
import { imageAttributes, kubernetesAttributes, stringMap } from './runtime-attributes.ts';
import type { ContainerMetadata, LookupTask, MetadataSource, MetadataSourceDefinition } from './source.ts';
import { MetadataLookupError } from './source.ts';
import { createUnixJsonClient } from './unix-http.ts';

/** dockershim marks its pause containers with this label and value. */
const SANDBOX_LABEL = 'io.kubernetes.docker.type';
const SANDBOX_VALUE = 'podsandbox';

export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An RFC 3339 time from Go in ms; Go's zero time (`0001-01-01T00:00:00Z`, never started) and garbage give undefined. */
export function startTime(value: unknown): number | undefined {
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * An inspect answer → the container's metadata. `Config.Image` is the reference as the user gave
 * it (`local/busybox:1.36`); a reference without a tag carries no tag (no `latest` is assumed).
 */
function fromInspect(inspect: unknown): ContainerMetadata {
  const body = record(inspect);
  const config = record(body?.Config);
  const labels = stringMap(config?.Labels);
  const name = nonEmpty(body?.Name)?.replace(/^\//, '');
  // dockershim (and cri-dockerd) put kubelet's pod labels on Docker containers, as the CRI runtimes do.
  const attributes: Attributes = {
    ...(name ? { 'container.name': name } : {}),
    ...imageAttributes(nonEmpty(config?.Image)),
    'container.runtime.name': 'docker',
    ...kubernetesAttributes(labels),
  };
  const startTimeMs = startTime(record(body?.State)?.StartedAt);
  return { attributes, labels, ...(startTimeMs !== undefined ? { startTimeMs } : {}), sandbox: labels[SANDBOX_LABEL] === SANDBOX_VALUE };
}

/**
 * A source that asks `runtime`'s HTTP API on `endpoint` for one JSON object per container
 * (`inspectPath(id)`; 404 → undefined) and reads it with `fromInspect`.
 */
export function inspectSource(
  runtime: string,
  endpoint: string,
  inspectPath: (id: string) => string,
  fromInspect: (inspect: Record<string, unknown>) => ContainerMetadata,
): MetadataSource {
  const client = createUnixJsonClient(runtime, endpoint);
  return {
    name: runtime,
    async lookup(task: LookupTask, signal: AbortSignal): Promise<ContainerMetadata | undefined> {
      const inspect = await client.get(inspectPath(encodeURIComponent(task.id)), signal);
      if (inspect === undefined) return undefined;
      const body = record(inspect);
      if (body === undefined) throw new MetadataLookupError(runtime, 'protocol', `inspect of ${task.id} answered no object`);
      return fromInspect(body);
    },
    close: () => client.close(),
  };
}

export const dockerSource: MetadataSourceDefinition = {
  name: 'docker',
  layouts: ['docker'],
  defaultEndpoint: '/var/run/docker.sock',
  description: "the Docker Engine API (GET /containers/<id>/json: name, image, tag, labels, start time; dockershim's pod labels)",
  create: (endpoint) => inspectSource('docker', endpoint, (id) => `/containers/${id}/json`, fromInspect),
};
