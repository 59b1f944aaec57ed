import type { Attributes } from '@opentelemetry/api';
import { ConfigError } from '../../errors.ts';

/**
 * Which runtime labels become `container.label.<key>` attributes: an explicit allow-list of
 * names and globs (`*` any run of characters, `?` one), because every label multiplies the
 * series a container has. The empty list lets none through.
 */
export class LabelAllowList {
  private readonly exact = new Set<string>();
  private readonly patterns: RegExp[] = [];
  private readonly cache = new Map<string, boolean>();

  constructor(entries: readonly string[]) {
    for (const e of entries) {
      if (e === '' || /\s/.test(e)) throw new ConfigError(`label allow-list entry ${JSON.stringify(e)}: a label name or glob, without spaces`);
      if (/[*?]/.test(e)) this.patterns.push(globToRegExp(e));
      else this.exact.add(e);
    }
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.patterns.length === 0;
  }

  allows(key: string): boolean {
    if (this.exact.has(key)) return true;
    if (this.patterns.length === 0) return false;
    let hit = this.cache.get(key);
    if (hit === undefined) {
      hit = this.patterns.some((p) => p.test(key));
      // Label keys repeat across containers; a bounded cache keeps a hostile variety from growing it.
      if (this.cache.size < 10_000) this.cache.set(key, hit);
    }
    return hit;
  }

  /** The allowed labels as `container.label.<key>` attributes. */
  attributes(labels: Readonly<Record<string, string>>): Attributes {
    const out: Attributes = {};
    if (this.empty) return out;
    for (const [k, v] of Object.entries(labels)) if (this.allows(k)) out[`container.label.${k}`] = v;
    return out;
  }
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}
