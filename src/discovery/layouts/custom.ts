import { ConfigError } from '../../errors.ts';
import { segments, type LayoutMatcher } from './layout.ts';

/**
 * Splits an anchored pattern `^/a/(?<x>[^/]+)/...$` at its top-level slashes (not inside a
 * class or a group; an escaped `\/` counts as a slash) into one regular expression per path
 * segment. Without that simple shape, only the pattern's depth bounds the watches.
 */
function segmentPatterns(pattern: string): { depth: number; segments?: RegExp[] } {
  const parts: string[] = [];
  let cur = '';
  let inClass = false;
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      if (pattern[i + 1] === '/' && !inClass && depth === 0) {
        parts.push(cur);
        cur = '';
      } else cur += c + (pattern[i + 1] ?? '');
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') inClass = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '/' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  const slashes = parts.length - 1;
  if (parts[0] !== '^' || slashes < 1) return { depth: Math.max(1, slashes) };
  try {
    const segs = parts.slice(1).map((p, i, all) => new RegExp(`^(?:${i === all.length - 1 ? p.replace(/\$$/, '') : p})$`));
    return { depth: slashes, segments: segs };
  } catch {
    return { depth: slashes };
  }
}

/**
 * A custom pattern: a regular expression over the cgroup path with a named group `id` and,
 * optionally, `namespace` (default: `custom`). Example: `^/jobs/(?<namespace>[^/]+)/(?<id>[^/]+)$`.
 * Watched directories: the proper prefixes of a matching path — each segment checked against
 * its part of the pattern when the pattern is anchored (`^/...`), else by depth alone.
 */
export function customLayout(pattern: string): LayoutMatcher<'custom'> {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch (err) {
    throw new ConfigError(`bad layout pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
  if (!pattern.includes('(?<id>')) throw new ConfigError(`layout pattern ${JSON.stringify(pattern)} needs a named group (?<id>...)`);
  const { depth, segments: segs } = segmentPatterns(pattern);
  return {
    name: 'custom',
    match(p) {
      const m = re.exec(p);
      const id = m?.groups?.id;
      if (!m || !id) return undefined;
      return { layout: 'custom', namespace: m.groups?.namespace ?? 'custom', id, attributes: {} };
    },
    mayContain(p) {
      const s = segments(p);
      if (s.length >= depth) return false;
      return !segs || s.every((seg, i) => (segs[i] as RegExp).test(seg));
    },
  };
}
