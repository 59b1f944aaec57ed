import { nativeAddon } from '../native-addon.ts';

/**
 * The native events thread (native/cgroup-events.c, loaded by native-addon.ts): epoll on cgroup.events files on a thread of its own, which reads a
 * task's registered files the moment its cgroup.events says `populated 0`.
 */
export interface NativeEvents {
  open(callback: NativeCallback, nice?: number): NativeHandle;
  /** `fd`: an open cgroup.events, read once already; `id`: the caller's key. Throws the errno error (EMFILE, ...). */
  watch(handle: NativeHandle, fd: number, id: number): void;
  /** The files to read at `populated 0` (replaces the list). */
  capture(handle: NativeHandle, id: number, paths: readonly string[]): void;
  /** After it returns the thread no longer uses the fd: the caller closes it. */
  unwatch(handle: NativeHandle, id: number): void;
  close(handle: NativeHandle): void;
}

/** An opaque watcher (a Node-API external). */
export type NativeHandle = { readonly __nativeEvents: unique symbol };

/**
 * What the thread reports, on the thread that opened it: the events file's text (undefined: it
 * could not be read, the cgroup is gone), and at `populated 0` the captured files as
 * [path, bytes | errno] in the registered order; wall-clock ms when the thread woke and when its
 * reads were done.
 */
export type NativeCallback = (
  id: number,
  text: string | undefined,
  captures: Array<[string, Uint8Array | number]> | undefined,
  wakeMs: number,
  doneMs: number,
) => void;

/** The addon's events part, or undefined with the reason (not built, disabled by OCM_NO_NATIVE_EVENTS=1, not Linux). */
export function nativeEvents(): { mod: NativeEvents | undefined; why: string } {
  if (process.env.OCM_NO_NATIVE_EVENTS === '1') return { mod: undefined, why: 'OCM_NO_NATIVE_EVENTS=1' };
  const { mod, why } = nativeAddon();
  if (!mod) return { mod: undefined, why };
  return typeof mod.open === 'function' ? { mod: mod as unknown as NativeEvents, why } : { mod: undefined, why: 'the addon has no events thread' };
}
