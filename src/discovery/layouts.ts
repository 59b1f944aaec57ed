import { ConfigError } from '../errors.ts';
import { customLayout } from './layouts/custom.ts';
import type { BuiltinLayout, LayoutMatcher, LayoutTask } from './layouts/layout.ts';
import { BUILTIN_LAYOUTS, type BuiltinLayoutName } from './layouts/registry.ts';

/**
 * Container runtimes' cgroup layouts: a cgroup path (relative to the hierarchy root, as in
 * /proc/<pid>/cgroup) → the task it belongs to. Pure: no I/O, tested on paths alone. The
 * built-in layouts live one per file in `layouts/`, listed once in `layouts/registry.ts`.
 */
export type LayoutName = BuiltinLayoutName | 'custom';
export type { BuiltinLayoutName };
export type DiscoveredTask = LayoutTask<LayoutName>;
export type Layout = LayoutMatcher<LayoutName>;
export { customLayout };

const byName = new Map(BUILTIN_LAYOUTS.map((l) => [l.name as string, l]));
/** The built-in layouts' names, sorted. */
export const BUILTIN_LAYOUT_NAMES: readonly BuiltinLayoutName[] = BUILTIN_LAYOUTS.map((l) => l.name).sort();
/** The layouts the agent uses when `--layouts` is not given. */
export const DEFAULT_LAYOUTS: readonly BuiltinLayoutName[] = BUILTIN_LAYOUT_NAMES.filter((n) => byName.get(n)?.onByDefault);
/** Every built-in layout's top directories: no catch-all layout takes them. */
const CLAIMED: ReadonlySet<string> = new Set(BUILTIN_LAYOUTS.flatMap((l) => l.topDirectories));

function definitionOf(name: string): (typeof BUILTIN_LAYOUTS)[number] {
  const definition = byName.get(name);
  if (!definition) throw new ConfigError(`unknown layout ${JSON.stringify(name)}; known: ${BUILTIN_LAYOUT_NAMES.join(', ')}`);
  return definition;
}

function matcherOf<N extends BuiltinLayoutName>(definition: BuiltinLayout<N>): LayoutMatcher<N> {
  return {
    name: definition.name,
    match(p) {
      const fields = definition.match(p, CLAIMED);
      return fields && { layout: definition.name, ...fields };
    },
    mayContain: (p) => definition.mayContain(p, CLAIMED),
  };
}

/** One built-in layout's matcher. */
export function builtinLayout(name: BuiltinLayoutName): Layout {
  return matcherOf(definitionOf(name));
}

/**
 * Builds the layout list from names and custom patterns. The first match wins: custom patterns
 * first, then the named built-in layouts in registry order, whatever the order of `names`.
 */
export function layoutsFrom(names: readonly string[], patterns: readonly string[] = []): Layout[] {
  for (const n of names) definitionOf(n);
  return [...patterns.map(customLayout), ...BUILTIN_LAYOUTS.filter((l) => names.includes(l.name)).map(matcherOf)];
}

/** The first layout's match for a path. */
export function matchTask(layouts: readonly Layout[], path: string): DiscoveredTask | undefined {
  for (const l of layouts) {
    const t = l.match(path);
    if (t) return t;
  }
  return undefined;
}

/**
 * What a directory is, asking the layouts in order: the first that claims it decides, whether
 * as a task (match) or as a directory with tasks below (mayContain). So a custom pattern, listed
 * first, keeps `/jobs/<tenant>` for its own `/jobs/<tenant>/<id>` instead of containerd taking
 * the tenant directory for a `/<namespace>/<id>` task.
 */
export function classify(layouts: readonly Layout[], path: string): DiscoveredTask | 'descend' | undefined {
  for (const l of layouts) {
    const t = l.match(path);
    if (t) return t;
    if (l.mayContain(path)) return 'descend';
  }
  return undefined;
}

/** Whether any layout may have tasks below this directory. */
export function worthWatching(layouts: readonly Layout[], path: string): boolean {
  return layouts.some((l) => l.mayContain(path));
}
