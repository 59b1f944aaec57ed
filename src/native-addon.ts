import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The package's one native addon (native/cgroup-events.c, built by `npm install` through
 * scripts/build-native.mjs): the events thread (discovery/native-events.ts) and batched
 * positional reads of kept files (cgroup/file-reader.ts). Node-API, context-aware: the main
 * thread and the reading thread load it alike. Optional: undefined, with the reason, where it
 * was not built or does not load; every caller has a JavaScript way.
 */
const ADDON = fileURLToPath(new URL('../native/build/cgroup-events.node', import.meta.url));

let loaded: { mod: Record<string, unknown> | undefined; why: string } | undefined;

export function nativeAddon(): { mod: Record<string, unknown> | undefined; why: string } {
  if (loaded) return loaded;
  if (process.platform !== 'linux') loaded = { mod: undefined, why: 'not Linux' };
  else if (!fs.existsSync(ADDON))
    loaded = { mod: undefined, why: `${ADDON} was not built (no C compiler or Node.js headers at install; see scripts/build-native.mjs)` };
  else {
    try {
      loaded = { mod: createRequire(import.meta.url)(ADDON) as Record<string, unknown>, why: 'built' };
    } catch (err) {
      loaded = { mod: undefined, why: `${ADDON} does not load: ${(err as Error).message}` };
    }
  }
  return loaded;
}
