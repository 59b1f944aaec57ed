/**
 * Image references as the runtimes report them (`docker.io/library/busybox:1.36`,
 * `localhost:5000/a/b:tag`, `name@sha256:…`, `name:tag@sha256:…`): split into the repository
 * name, the tag and the digest, which become `container.image.name` and `container.image.tags`.
 */

/** One image reference's parts; the name stays as the runtime wrote it (no `docker.io/library/` added or removed). */
export interface ImageRef {
  /** The repository, with its registry host (and port) when the reference names one. */
  readonly name: string;
  /** The tag, absent when the reference has none. */
  readonly tag?: string;
  /** The digest (`sha256:<hex>`), absent when the reference pins none. */
  readonly digest?: string;
}

/** An image id: what a runtime reports when a container was created from an id rather than a name. */
const IMAGE_ID = /^sha256:[0-9a-f]{64}$/;

/**
 * Splits a reference by its structure alone and never throws: the digest follows the first `@`,
 * and the tag follows the last `:` after the last `/` (a `:` before a `/` is a registry's port).
 * A bare image id (`sha256:<64 hex>`) has no tag: it is its own name.
 */
export function parseImageRef(ref: string): ImageRef {
  if (IMAGE_ID.test(ref)) return { name: ref };
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : '';
  const rest = at >= 0 ? ref.slice(0, at) : ref;
  const colon = rest.lastIndexOf(':');
  const hasTag = colon > rest.lastIndexOf('/');
  const name = hasTag ? rest.slice(0, colon) : rest;
  const tag = hasTag ? rest.slice(colon + 1) : '';
  return { name, ...(tag !== '' ? { tag } : {}), ...(digest !== '' ? { digest } : {}) };
}
