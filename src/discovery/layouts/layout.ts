import type { Attributes } from '@opentelemetry/api';

/**
 * The shape every layout shares, generic in the layout's name so that a layout's file does not
 * import the registry that lists it. `../layouts.ts` instantiates these with `LayoutName`.
 */
export interface LayoutTask<N extends string = string> {
  layout: N;
  namespace: string;
  id: string;
  attributes: Attributes;
}

/** What a built-in layout's match finds; the caller adds the layout's name. */
export type TaskFields = Omit<LayoutTask, 'layout'>;

export interface LayoutMatcher<N extends string = string> {
  name: N;
  /** The task a cgroup path belongs to, or undefined. */
  match(path: string): LayoutTask<N> | undefined;
  /**
   * Whether tasks may appear below `path` (a directory worth watching). Bounds the watches:
   * only ancestors of possible task directories are watched, never every leaf of a deep tree.
   */
  mayContain(path: string): boolean;
}

/**
 * A built-in layout: one file each, listed once in `registry.ts`. Its `match` gives the task's
 * fields; `../layouts.ts` adds the layout's name. `claimed` holds the top directories of every
 * built-in layout.
 */
export interface BuiltinLayout<N extends string = string> {
  readonly name: N;
  /** Whether the agent uses it when `--layouts` is not given. */
  readonly onByDefault: boolean;
  /**
   * The top-level cgroup directories (below the hierarchy root) that hold this layout's tasks.
   * A layout that takes any directory (containerd's `/<namespace>`) leaves these alone.
   */
  readonly topDirectories: readonly string[];
  match(path: string, claimed: ReadonlySet<string>): TaskFields | undefined;
  mayContain(path: string, claimed: ReadonlySet<string>): boolean;
}

/** A cgroup path's non-empty segments: `/a/b` → `['a', 'b']`. */
export function segments(p: string): string[] {
  return p.split('/').filter(Boolean);
}

export const HEX64 = '[0-9a-f]{64}';
