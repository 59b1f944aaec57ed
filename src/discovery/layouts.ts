import type { Attributes } from '@opentelemetry/api';
import { ConfigError } from '../errors.ts';

/**
 * Container runtimes' cgroup layouts: a cgroup path (relative to the hierarchy root, as in
 * /proc/<pid>/cgroup) → the task it belongs to. Pure: no I/O, tested on paths alone.
 */
export type LayoutName = 'containerd' | 'docker' | 'kubernetes' | 'podman' | 'systemd' | 'custom';

export interface DiscoveredTask {
  layout: LayoutName;
  namespace: string;
  id: string;
  attributes: Attributes;
}

export interface Layout {
  name: LayoutName;
  /** The task a cgroup path belongs to, or undefined. */
  match(path: string): DiscoveredTask | undefined;
  /**
   * Whether tasks may appear below `path` (a directory worth watching). Bounds the watches:
   * only ancestors of possible task directories are watched, never every leaf of a deep tree.
   */
  mayContain(path: string): boolean;
}

const HEX64 = '[0-9a-f]{64}';
const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
const RUNTIME_OF_SCOPE: Record<string, string> = { 'cri-containerd': 'containerd', crio: 'cri-o', docker: 'docker' };

function segments(p: string): string[] {
  return p.split('/').filter(Boolean);
}

/** Names that belong to systemd or to another layout, never a containerd namespace. */
function isSystemdOrReserved(seg: string): boolean {
  return /\.(slice|scope|service|mount|socket)$/.test(seg) || seg === 'docker' || seg === 'kubepods' || seg === 'init.scope' || seg === 'unified';
}

/** containerd with cgroupfs: /<namespace>/<id> (ctr, nerdctl, moby under containerd). */
export function containerdLayout(): Layout {
  return {
    name: 'containerd',
    match(p) {
      const s = segments(p);
      if (s.length !== 2) return undefined;
      const [ns, id] = s as [string, string];
      if (isSystemdOrReserved(ns) || isSystemdOrReserved(id)) return undefined;
      return { layout: 'containerd', namespace: ns, id, attributes: { 'container.runtime.name': 'containerd' } };
    },
    mayContain(p) {
      const s = segments(p);
      return s.length === 0 || (s.length === 1 && !isSystemdOrReserved(s[0] as string));
    },
  };
}

const DOCKER_CGROUPFS = new RegExp(`^/docker/(${HEX64})$`);
const DOCKER_SYSTEMD = new RegExp(`^/system\\.slice/docker-(${HEX64})\\.scope$`);

/** Docker: /docker/<id> (cgroupfs driver) and /system.slice/docker-<id>.scope (systemd driver). */
export function dockerLayout(): Layout {
  return {
    name: 'docker',
    match(p) {
      const m = DOCKER_CGROUPFS.exec(p) ?? DOCKER_SYSTEMD.exec(p);
      return m ? { layout: 'docker', namespace: 'moby', id: m[1] as string, attributes: { 'container.runtime.name': 'docker' } } : undefined;
    },
    mayContain: (p) => p === '/' || p === '/docker' || p === '/system.slice',
  };
}

const K8S_CGROUPFS = new RegExp(`^/kubepods(?:/(besteffort|burstable))?/pod(${UID})/([0-9a-f]{64})$`);
const K8S_SYSTEMD = new RegExp(
  `^/kubepods\\.slice(?:/kubepods-(besteffort|burstable)\\.slice)?/kubepods(?:-(?:besteffort|burstable))?-pod(${UID})\\.slice/(cri-containerd|crio|docker)-([0-9a-f]{64})\\.scope$`,
);

const K8S_WATCH_CGROUPFS = new RegExp(`^/kubepods(?:/(?:besteffort|burstable))?(?:/pod${UID})?$`);
const K8S_WATCH_SYSTEMD = new RegExp(`^/kubepods\\.slice(?:/kubepods-(?:besteffort|burstable)\\.slice)?(?:/kubepods(?:-(?:besteffort|burstable))?-pod${UID}\\.slice)?$`);

/** Kubernetes, cgroupfs and systemd drivers; guaranteed pods sit directly under kubepods. */
export function kubernetesLayout(): Layout {
  return {
    name: 'kubernetes',
    match(p) {
      let m = K8S_CGROUPFS.exec(p);
      if (m) return k8sTask(m[1] ?? 'guaranteed', m[2] as string, m[3] as string, undefined);
      m = K8S_SYSTEMD.exec(p);
      if (m) return k8sTask(m[1] ?? 'guaranteed', m[2] as string, m[4] as string, RUNTIME_OF_SCOPE[m[3] as string]);
      return undefined;
    },
    // The kubepods root, the QoS directories and the pod directories: never below pod level
    // (a guaranteed pod's non-container children, e.g. CRI-O's crio-conmon-<id>.scope, are not watched).
    mayContain: (p) => segments(p).length === 0 || K8S_WATCH_CGROUPFS.test(p) || K8S_WATCH_SYSTEMD.test(p),
  };
}

function k8sTask(qos: string, uid: string, id: string, runtime: string | undefined): DiscoveredTask {
  const attributes: Attributes = { 'k8s.pod.uid': uid.replace(/_/g, '-'), 'k8s.pod.qos_class': qos };
  if (runtime) attributes['container.runtime.name'] = runtime;
  return { layout: 'kubernetes', namespace: 'k8s.io', id, attributes };
}

const PODMAN = new RegExp(`/libpod-(${HEX64})\\.scope$`);

/** podman: libpod-<id>.scope under machine.slice or a user's slice. */
export function podmanLayout(): Layout {
  return {
    name: 'podman',
    match(p) {
      const m = PODMAN.exec(p);
      return m ? { layout: 'podman', namespace: 'podman', id: m[1] as string, attributes: { 'container.runtime.name': 'podman' } } : undefined;
    },
    mayContain(p) {
      const s = segments(p);
      if (s.length === 0) return true;
      if (s[0] === 'machine.slice') return s.length === 1;
      // /user.slice/user-1000.slice/user@1000.service/user.slice
      if (s[0] === 'user.slice') return s.length <= 4 && !s.some((x) => x.startsWith('libpod-'));
      return false;
    },
  };
}

const SYSTEMD_SERVICE = /^\/system\.slice\/([^/]+)\.service$/;

/** systemd services: /system.slice/<unit>.service (off by default). */
export function systemdLayout(): Layout {
  return {
    name: 'systemd',
    match(p) {
      const m = SYSTEMD_SERVICE.exec(p);
      return m ? { layout: 'systemd', namespace: 'systemd', id: `${m[1]}.service`, attributes: { 'systemd.unit': `${m[1]}.service` } } : undefined;
    },
    mayContain: (p) => p === '/' || p === '/system.slice',
  };
}

/** The `/` of a pattern that stand for path separators: not those inside a character class (`[^/]`). */
/**
 * Splits an anchored pattern `^/a/(?<x>[^/]+)/...$` at its top-level slashes (not inside a
 * class or a group) into one regular expression per path segment; undefined when the pattern
 * is not of that simple shape (then only its depth bounds the watches).
 */
function segmentPatterns(pattern: string): { depth: number; segments?: RegExp[] } {
  const parts: string[] = [];
  let cur = '';
  let inClass = false;
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      // `\/` is a literal slash: a level like `/`.
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
export function customLayout(pattern: string): Layout {
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

export const DEFAULT_LAYOUTS: readonly LayoutName[] = ['containerd', 'docker', 'kubernetes', 'podman'];

export function builtinLayout(name: Exclude<LayoutName, 'custom'>): Layout {
  switch (name) {
    case 'containerd':
      return containerdLayout();
    case 'docker':
      return dockerLayout();
    case 'kubernetes':
      return kubernetesLayout();
    case 'podman':
      return podmanLayout();
    case 'systemd':
      return systemdLayout();
  }
}

/** Builds the layout list from names and custom patterns. Specific layouts first: the first match wins. */
export function layoutsFrom(names: readonly string[], patterns: readonly string[] = []): Layout[] {
  const known = ['containerd', 'docker', 'kubernetes', 'podman', 'systemd'];
  for (const n of names) if (!known.includes(n)) throw new ConfigError(`unknown layout ${JSON.stringify(n)}; known: ${known.join(', ')}`);
  const order = ['kubernetes', 'docker', 'podman', 'systemd', 'containerd'] as const;
  return [...patterns.map(customLayout), ...order.filter((n) => names.includes(n)).map(builtinLayout)];
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
