import type { Attributes } from '@opentelemetry/api';
import type { LayoutName } from '../layouts.ts';

/** What a runtime says of one container: the names its series carry. */
export interface ContainerMetadata {
  /**
   * Semantic-convention attributes the runtime knows: `container.name`, `container.image.name`,
   * `container.image.tags` (string[]), `container.runtime.name`, `k8s.pod.name`, `k8s.pod.uid`,
   * `k8s.namespace.name`, `k8s.container.name`. Absent keys stay absent; never empty strings.
   */
  readonly attributes: Attributes;
  /** Every runtime label of the container; the label allow-list picks which become `container.label.<key>`. */
  readonly labels: Readonly<Record<string, string>>;
  /** When the runtime started the container, ms since the epoch. */
  readonly startTimeMs?: number;
  /**
   * The runtime knows the container but has not started it yet (a lookup made at discovery runs
   * while StartContainer is still under way): the names apply now and the lookup is made again
   * for the start time, so that it is the runtime's as it would be for an agent started later.
   */
  readonly startPending?: boolean;
  /** A pod sandbox (the "pause" or infra container): not exported unless sandboxes are kept. */
  readonly sandbox: boolean;
}

export { type LookupErrorType, MetadataLookupError } from '../../errors.ts';

/** The task a lookup is for, as discovery found it. */
export interface LookupTask {
  readonly layout: LayoutName;
  /** containerd's namespace (`k8s.io`, `moby`, `default`), or the layout's. */
  readonly namespace: string;
  /** The container id (64 hex for the runtimes). */
  readonly id: string;
}

/** A connection to one runtime's API. */
export interface MetadataSource {
  /** The definition's name: `docker`, `containerd`, `cri`, `podman`. */
  readonly name: string;
  /**
   * The container's metadata, or undefined when the runtime does not know the id (another
   * runtime's container, or one already removed). Rejects only with MetadataLookupError
   * (socket missing or refusing: `unavailable`; no answer by the deadline: `timeout`; an answer
   * it cannot read: `protocol`). Gives up at `signal` (rejecting with type `timeout`).
   */
  lookup(task: LookupTask, signal: AbortSignal): Promise<ContainerMetadata | undefined>;
  /** Releases connections; lookups after close reject as `unavailable`. */
  close(): void;
}

/** One runtime's metadata source: one file each, listed once in `registry.ts`. */
export interface MetadataSourceDefinition {
  readonly name: string;
  /** The layouts whose tasks it names. */
  readonly layouts: readonly LayoutName[];
  /** Its default endpoint: a unix socket path. */
  readonly defaultEndpoint: string;
  /** What it talks to, for the README and `--help`. */
  readonly description: string;
  create(endpoint: string): MetadataSource;
}
