/**
 * Typed errors. Every message names the thing the user has to look at (a path, a task id,
 * a flag) so that it can be acted on without reading the source.
 */
export class CgroupMetricsError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The cgroup (directory, or the pid's cgroup) does not exist in any mounted hierarchy. */
export class CgroupNotFoundError extends CgroupMetricsError {
  constructor(
    readonly path: string,
    detail = '',
  ) {
    super('CGROUP_NOT_FOUND', `cgroup not found: ${path}${detail ? ` (${detail})` : ''}`);
  }
}

/** A cgroup path that would leave the cgroup mount (`..`, or a symlink pointing outside). */
export class PathOutsideMountError extends CgroupMetricsError {
  constructor(
    readonly path: string,
    readonly mountPoint: string,
  ) {
    super('PATH_OUTSIDE_MOUNT', `cgroup path ${JSON.stringify(path)} leaves the cgroup mount ${mountPoint}; give a path inside it`);
  }
}

/** No cgroup filesystem could be found (no cgroup lines in mountinfo, or an unusable --root). */
export class NoCgroupMountError extends CgroupMetricsError {
  constructor(detail: string) {
    super('NO_CGROUP_MOUNT', `no cgroup hierarchy found: ${detail}`);
  }
}

/** A (namespace, id) pair registered twice; containerd calls this ErrAlreadyCollected. */
export class AlreadyCollectedError extends CgroupMetricsError {
  constructor(
    readonly namespace: string,
    readonly id: string,
  ) {
    super('ALREADY_COLLECTED', `task ${namespace}/${id} is already registered; stop() or remove() it first`);
  }
}

/** stop() of a task that is not registered. */
export class TaskNotFoundError extends CgroupMetricsError {
  constructor(
    readonly namespace: string,
    readonly id: string,
  ) {
    super('TASK_NOT_FOUND', `task ${namespace}/${id} is not registered`);
  }
}

/** Invalid configuration: a bad option value, an unknown exporter, a malformed flag. */
export class ConfigError extends CgroupMetricsError {
  constructor(message: string) {
    super('CONFIG', message);
  }
}

/** The Prometheus endpoint could not start (port in use, address not available, permission). */
export class EndpointStartError extends CgroupMetricsError {
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const why = cause.code === 'EADDRINUSE' ? 'the port is in use; choose another with --prometheus-port or OTEL_EXPORTER_PROMETHEUS_PORT' : cause.message;
    super('ENDPOINT_START', `cannot serve Prometheus metrics on ${host}:${port}: ${why}`, { cause });
  }
}

/** Why a metadata lookup failed: counted by type in `cgroup_metrics.metadata.errors`. */
export type LookupErrorType = 'unavailable' | 'timeout' | 'protocol';

/**
 * A runtime's API did not name a container: its socket is missing or refuses (`unavailable`),
 * it gave no answer by the deadline (`timeout`), or an answer that cannot be read (`protocol`).
 * An unknown container is no error: the lookup resolves undefined.
 */
export class MetadataLookupError extends CgroupMetricsError {
  constructor(
    readonly source: string,
    readonly type: LookupErrorType,
    message: string,
  ) {
    super('METADATA_LOOKUP', `${source}: ${message}`);
  }
}

/** acknowledge() with a receipt that this consumer (or producer) did not issue. */
export class ForeignReceiptError extends CgroupMetricsError {
  constructor() {
    super(
      'FOREIGN_RECEIPT',
      'this delivery receipt was issued to another consumer: acknowledge it with the consumer (or producer) whose collection returned it',
    );
  }
}
