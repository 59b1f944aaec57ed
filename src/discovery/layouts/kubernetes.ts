import type { Attributes } from '@opentelemetry/api';
import { HEX64, segments, type BuiltinLayout, type TaskFields } from './layout.ts';

const UID = '[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}';
const RUNTIME_OF_SCOPE: Record<string, string> = { 'cri-containerd': 'containerd', crio: 'cri-o', docker: 'docker' };

const CGROUPFS = new RegExp(`^/kubepods(?:/(besteffort|burstable))?/pod(${UID})/(${HEX64})$`);
const SYSTEMD = new RegExp(
  `^/kubepods\\.slice(?:/kubepods-(besteffort|burstable)\\.slice)?/kubepods(?:-(?:besteffort|burstable))?-pod(${UID})\\.slice/(cri-containerd|crio|docker)-(${HEX64})\\.scope$`,
);

const WATCH_CGROUPFS = new RegExp(`^/kubepods(?:/(?:besteffort|burstable))?(?:/pod${UID})?$`);
const WATCH_SYSTEMD = new RegExp(
  `^/kubepods\\.slice(?:/kubepods-(?:besteffort|burstable)\\.slice)?(?:/kubepods(?:-(?:besteffort|burstable))?-pod${UID}\\.slice)?$`,
);

function task(qos: string, uid: string, id: string, runtime: string | undefined): TaskFields {
  const attributes: Attributes = { 'k8s.pod.uid': uid.replace(/_/g, '-'), 'k8s.pod.qos_class': qos };
  if (runtime) attributes['container.runtime.name'] = runtime;
  return { namespace: 'k8s.io', id, attributes };
}

/** Kubernetes, cgroupfs and systemd drivers; guaranteed pods sit directly under kubepods. */
export const kubernetes: BuiltinLayout<'kubernetes'> = {
  name: 'kubernetes',
  onByDefault: true,
  topDirectories: ['kubepods', 'kubepods.slice'],
  match(p) {
    let m = CGROUPFS.exec(p);
    if (m) return task(m[1] ?? 'guaranteed', m[2] as string, m[3] as string, undefined);
    m = SYSTEMD.exec(p);
    if (m) return task(m[1] ?? 'guaranteed', m[2] as string, m[4] as string, RUNTIME_OF_SCOPE[m[3] as string]);
    return undefined;
  },
  // The kubepods root, the QoS directories and the pod directories: never below pod level
  // (a guaranteed pod's non-container children, e.g. CRI-O's crio-conmon-<id>.scope, are not watched).
  mayContain: (p) => segments(p).length === 0 || WATCH_CGROUPFS.test(p) || WATCH_SYSTEMD.test(p),
};
