import { containerd } from './containerd.ts';
import { docker } from './docker.ts';
import { kubernetes } from './kubernetes.ts';
import { podman } from './podman.ts';
import { systemd } from './systemd.ts';

/**
 * Every built-in layout, once. The order is the precedence: the first layout that matches a
 * path takes it, so the specific layouts come first and containerd's catch-all
 * `/<namespace>/<id>` comes last. Adding a layout: one file in this folder, one entry here.
 */
export const BUILTIN_LAYOUTS = [kubernetes, docker, podman, systemd, containerd] as const;

export type BuiltinLayoutName = (typeof BUILTIN_LAYOUTS)[number]['name'];
