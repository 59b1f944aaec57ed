/**
 * A FUSE file system whose reads of one file hang (test/helpers/slowfs.c): built with cc against
 * libfuse3 (scripts/install-peers.sh installs fuse3, libfuse3-dev and pkg-config) and mounted in
 * the foreground. Missing pieces fail with a message naming them, never a skip.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'slowfs.c');
let built: string | undefined;

function build(): string {
  if (built) return built;
  const out = path.join(os.tmpdir(), `ocm-slowfs-${process.pid}`);
  let flags: string[];
  try {
    flags = execFileSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' }).trim().split(/\s+/);
  } catch (err) {
    assert.fail(
      `the hung-read tests build a FUSE file system: pkg-config fuse3 failed (${(err as Error).message}); run scripts/install-peers.sh (fuse3 libfuse3-dev pkg-config)`,
    );
  }
  execFileSync('cc', ['-O2', '-o', out, SOURCE, ...flags], { stdio: 'inherit' });
  built = out;
  return out;
}

export interface SlowFs {
  /** The mount point: SOURCE's tree, read-only. */
  readonly dir: string;
  /** Unmounts it (lazily) and ends the daemon: a read it holds returns an error at once. */
  close(): Promise<void>;
}

/** Mounts `source` with every read of `slowPath` (as mounted, `/a/memory.stat`) answering after `hangS` seconds. */
export async function mountSlowFs(source: string, slowPath: string, hangS: number): Promise<SlowFs> {
  assert.ok(fs.existsSync('/dev/fuse'), 'the hung-read tests need /dev/fuse');
  const exe = build();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-slowfs-mnt-'));
  const daemon: ChildProcess = spawn(exe, [source, dir, slowPath, String(hangS)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  daemon.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const mounted = (): boolean => fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir} `);
  for (let i = 0; !mounted(); i++) {
    if (i > 100 || daemon.exitCode !== null) assert.fail(`slowfs did not mount ${dir}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    dir,
    async close() {
      try {
        execFileSync('fusermount3', ['-u', '-z', dir], { stdio: 'ignore' });
      } catch {
        // already unmounted
      }
      if (daemon.exitCode === null && daemon.signalCode === null) {
        const gone = new Promise((r) => daemon.once('exit', r));
        daemon.kill('SIGKILL');
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
