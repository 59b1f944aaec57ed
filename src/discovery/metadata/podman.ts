/**
 * podman's own (libpod) API as a metadata source: `GET /v4.0.0/libpod/containers/<id>/json`.
 * Unlike its Docker-compatible endpoint, libpod's inspect says which container is a pod's infra
 * container (`IsInfra`), so that it is dropped as a sandbox. Checked against podman 4.3.1
 * (Debian bookworm), which serves the `/v4.0.0/libpod/` prefix; podman 4 and 5 both do.
 */
import type { Attributes } from '@opentelemetry/api';
import { inspectSource, nonEmpty, record, startTime } from './docker.ts';
import { imageAttributes, stringMap } from './runtime-attributes.ts';
import type { ContainerMetadata, MetadataSourceDefinition } from './source.ts';

/** The libpod API version the paths ask for: podman ≥ 4.0 answers it. */
const LIBPOD_API = '/v4.0.0/libpod';

/** libpod's states of a container that has not run yet. */
const NOT_STARTED: ReadonlySet<string> = new Set(['configured', 'created', 'initialized']);

/**
 * A libpod inspect answer → the container's metadata. `Name` has no leading slash;
 * `ImageName` is the reference podman resolved (`localhost/local/busybox:1.36`, `docker.io/library/redis:7`).
 */
function fromLibpodInspect(body: Record<string, unknown>): ContainerMetadata {
  const config = record(body.Config);
  const labels = stringMap(config?.Labels);
  const name = nonEmpty(body.Name);
  const attributes: Attributes = {
    ...(name ? { 'container.name': name } : {}),
    ...imageAttributes(nonEmpty(body.ImageName) ?? nonEmpty(config?.Image)),
    'container.runtime.name': 'podman',
  };
  const state = record(body.State);
  const startTimeMs = startTime(state?.StartedAt);
  // Looked up while podman is still starting it (its cgroup exists from `runc create` on): ask again for the start time.
  const starting = startTimeMs === undefined && NOT_STARTED.has(nonEmpty(state?.Status) ?? '');
  return {
    attributes,
    labels,
    ...(startTimeMs !== undefined ? { startTimeMs } : starting ? { startPending: true } : {}),
    sandbox: body.IsInfra === true,
  };
}

export const podmanSource: MetadataSourceDefinition = {
  name: 'podman',
  layouts: ['podman'],
  defaultEndpoint: '/run/podman/podman.sock',
  description: `podman's libpod API (GET ${LIBPOD_API}/containers/<id>/json: name, image, tag, labels, start time; a pod's infra container is a sandbox)`,
  create: (endpoint) => inspectSource('podman', endpoint, (id) => `${LIBPOD_API}/containers/${id}/json`, fromLibpodInspect),
};
