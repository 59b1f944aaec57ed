import { containerdSource } from './containerd.ts';
import { criSource } from './cri.ts';
import { dockerSource } from './docker.ts';
import { podmanSource } from './podman.ts';
import type { MetadataSourceDefinition } from './source.ts';

/**
 * Every runtime's metadata source. A new runtime is one module beside these and one entry here:
 * the agent's `--<name>-socket` flags, `--metadata-sources`, the README and `--help` derive from it.
 */
export const METADATA_SOURCES: readonly MetadataSourceDefinition[] = [dockerSource, podmanSource, containerdSource, criSource];
