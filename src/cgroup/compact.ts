/** Helpers that keep readings small: every task keeps its last one. */

/** `o` when any field is defined, else undefined (a group with no value is absent, not `{}`). */
export function defined<T extends object>(o: T): T | undefined {
  for (const k in o) if (o[k] !== undefined) return o;
  return undefined;
}

/**
 * Copies the defined fields into a fresh object. Not `delete`: that turns V8 objects into
 * dictionaries several times larger.
 */
export function compact<T extends object>(o: T): T {
  const out = {} as T;
  for (const k in o) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
