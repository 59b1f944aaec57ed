/**
 * readStats when files misbehave: a cgroup removed in the middle of a read (a real v1 memory
 * cgroup), permission denied (a child process dropped to uid/gid 65534), garbage and
 * truncated files, and special files (FIFO, directory, /dev/null) planted in a fixture copy.
 * readStats must never throw: every failure is an entry of `errors` naming the file, and
 * every other value is still there.
 *
 * Needs root (a real cgroup, setuid for the child): without it the tests fail saying so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FileReader } from '../../src/cgroup/file-reader.ts';
import { cgroupMountsFromDirectory, hostCgroupMounts } from '../../src/cgroup/mounts.ts';
import { newReadState, readStats } from '../../src/cgroup/read.ts';
import { resolveCgroup } from '../../src/cgroup/resolve.ts';
import { ALL_GROUPS, type CgroupStats, type MetricGroup, type ReadResult, type TaskCgroup } from '../../src/cgroup/types.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const V1_FIXTURE = path.join(repo, 'test/fixtures/cgroup-v1-kernel-6.18');
const V2_LOADED = path.join(repo, 'test/fixtures/cgroup-v2-kernel-6.18/loaded');
const ALL = new Set<MetricGroup>(ALL_GROUPS);

function requireRoot(what: string): void {
  assert.equal(process.getuid?.(), 0, `${what} needs root (uid is ${process.getuid?.()}, CI=${process.env.CI ?? 'unset'})`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-read-errors-'));
// Readable by the unprivileged child of the permission test.
fs.chmodSync(tmp, 0o755);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let copies = 0;
/** A writable copy of a fixture directory (the fixtures themselves are read-only). */
function copyOf(src: string): string {
  const dst = path.join(tmp, `copy${++copies}`);
  fs.cpSync(src, dst, { recursive: true });
  for (const d of [dst, ...fs.readdirSync(dst, { recursive: true, encoding: 'utf8' }).map((e) => path.join(dst, e))]) {
    if (fs.lstatSync(d).isDirectory()) fs.chmodSync(d, 0o755);
  }
  return dst;
}

function readRoot(dir: string, groups: ReadonlySet<MetricGroup> = ALL): ReadResult {
  return readStats(resolveCgroup(cgroupMountsFromDirectory(dir), '/'), groups);
}

/** The undamaged fixture's stats, with some fields removed: what a damaged copy must still give. */
function pristineWithout(src: string, ...drop: string[]): CgroupStats {
  const r = readRoot(src);
  assert.deepEqual(r.errors, []);
  const s = structuredClone(r.stats) as unknown as Record<string, unknown>;
  for (const p of drop) {
    const keys = p.split('.');
    let o = s as Record<string, unknown>;
    for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
    delete o[keys[keys.length - 1] ?? ''];
  }
  return s as unknown as CgroupStats;
}

/**
 * A script run in a child process (unprivileged, or just to put a time limit on a read that
 * could hang): reads each directory given as the root cgroup, prints the results as JSON.
 */
const CHILD_SCRIPT = path.join(tmp, 'read-child.mjs');
fs.writeFileSync(
  CHILD_SCRIPT,
  `import { pathToFileURL } from 'node:url';
const [src, ...dirs] = process.argv.slice(2);
const imp = (p) => import(pathToFileURL(src + p).href);
const { cgroupMountsFromDirectory } = await imp('/cgroup/mounts.ts');
const { resolveCgroup } = await imp('/cgroup/resolve.ts');
const { readStats } = await imp('/cgroup/read.ts');
const { ALL_GROUPS } = await imp('/cgroup/types.ts');
const out = [];
for (const dir of dirs) {
  const t0 = performance.now();
  const r = readStats(resolveCgroup(cgroupMountsFromDirectory(dir), '/'), new Set(ALL_GROUPS));
  out.push({ dir, ms: performance.now() - t0, uid: process.getuid(), gid: process.getgid(), stats: r.stats, errors: r.errors, gone: r.gone });
}
process.stdout.write(JSON.stringify(out));
`,
);
fs.chmodSync(CHILD_SCRIPT, 0o644);

interface ChildRead {
  dir: string;
  ms: number;
  uid: number;
  gid: number;
  stats: CgroupStats;
  errors: ReadResult['errors'];
  gone: boolean;
}
function readInChild(dirs: string[], opts: { uid?: number; gid?: number } = {}): ChildRead[] {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD_SCRIPT, path.join(repo, 'src'), ...dirs], {
    cwd: repo,
    encoding: 'utf8',
    timeout: 30_000,
    ...opts,
  });
  assert.equal(r.error, undefined, `child failed to run: ${String(r.error)}`);
  assert.equal(r.signal, null, `child killed by ${r.signal} (a read hung?) stderr: ${r.stderr}`);
  assert.equal(r.status, 0, `child exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildRead[];
}

// ---------------------------------------------------------------------------------------------
describe('a cgroup removed while it is read (real v1 memory cgroup)', () => {
  const created: string[] = [];
  after(() => {
    for (const d of created) {
      try {
        fs.rmdirSync(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  });

  function makeCgroup(): { dir: string; cg: TaskCgroup } {
    requireRoot('a real cgroup');
    const mp = hostCgroupMounts().v1.get('memory')?.mountPoint;
    assert.ok(mp, 'this test needs a v1 memory hierarchy (hybrid host)');
    const dir = path.join(mp, `ocm-test-read-${randomBytes(6).toString('hex')}`);
    fs.mkdirSync(dir);
    created.push(dir);
    fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), '104857600');
    return { dir, cg: { version: 1, path: `/${path.basename(dir)}`, dirs: { memory: dir } } };
  }

  /** Reads normally, and removes the cgroup right after the Nth file (1-based). */
  class RemovingReader extends FileReader {
    readonly files: string[] = [];
    constructor(
      private readonly dir: string,
      private readonly afterN: number,
    ) {
      super();
    }
    override read(file: string): string {
      this.files.push(file);
      const t = super.read(file);
      if (this.files.length === this.afterN) fs.rmdirSync(this.dir);
      return t;
    }
  }

  /** Opens the Nth file, removes the cgroup while it is open, then reads it: the kernel answers ENODEV. */
  class OpenWhileRemovedReader extends FileReader {
    readonly files: string[] = [];
    constructor(
      private readonly dir: string,
      private readonly atN: number,
    ) {
      super();
    }
    override read(file: string): string {
      this.files.push(file);
      if (this.files.length !== this.atN) return super.read(file);
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      try {
        fs.rmdirSync(this.dir);
        const buf = Buffer.alloc(4096);
        return buf.toString('latin1', 0, fs.readSync(fd, buf, 0, buf.length, null));
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  test('rmdir after the 2nd file (ENOENT on the 3rd): gone, the first two values kept, one ENOENT error naming the dir', () => {
    const { dir, cg } = makeCgroup();
    const reader = new RemovingReader(dir, 2);
    const r = readStats(cg, new Set(['memory']), newReadState(), reader);
    assert.equal(r.gone, true);
    assert.deepEqual(r.stats, { version: 1, memory: { usage: 0, limit: 104857600 } });
    assert.deepEqual(r.errors, [{ type: 'ENOENT', path: dir, message: `cgroup ${dir} was removed` }]);
    // Nothing is read after the cgroup is known to be gone.
    assert.deepEqual(
      reader.files,
      ['memory.usage_in_bytes', 'memory.limit_in_bytes', 'memory.max_usage_in_bytes'].map((f) => path.join(dir, f)),
    );
    assert.equal(fs.existsSync(dir), false);
  });

  test('rmdir while the 4th file is open (ENODEV): gone, the first three values kept', () => {
    const { dir, cg } = makeCgroup();
    const reader = new OpenWhileRemovedReader(dir, 4);
    const state = newReadState();
    const r = readStats(cg, new Set(['memory', 'cpu', 'pids']), state, reader);
    assert.equal(r.gone, true);
    assert.deepEqual(r.stats, { version: 1, memory: { usage: 0, limit: 104857600, maxUsage: 0 } });
    assert.deepEqual(r.errors, [{ type: 'ENOENT', path: dir, message: `cgroup ${dir} was removed` }]);
    assert.equal(reader.files.length, 4);
    assert.equal(reader.files[3], path.join(dir, 'memory.failcnt'));
    assert.equal(state.absent.size, 0, 'files of a removed cgroup are not remembered as absent');
  });

  test('a cgroup removed before the read: gone, no values, one error', () => {
    const { dir, cg } = makeCgroup();
    fs.rmdirSync(dir);
    const r = readStats(cg, ALL);
    assert.equal(r.gone, true);
    assert.deepEqual(r.stats, { version: 1 });
    assert.deepEqual(r.errors, [{ type: 'ENOENT', path: dir, message: `cgroup ${dir} was removed` }]);
  });

  test('the same cgroup read without removal gives every memory value', () => {
    const { dir, cg } = makeCgroup();
    const r = readStats(cg, new Set(['memory']));
    assert.equal(r.gone, false);
    assert.deepEqual(r.errors, []);
    assert.ok(r.stats.version === 1 && r.stats.memory);
    const m = r.stats.memory;
    assert.deepEqual(
      { usage: m.usage, limit: m.limit, maxUsage: m.maxUsage, failcnt: m.failcnt, oomKill: m.oomKill, underOom: m.underOom, cache: m.stat?.total_cache },
      { usage: 0, limit: 104857600, maxUsage: 0, failcnt: 0, oomKill: 0, underOom: 0, cache: 0 },
    );
    fs.rmdirSync(dir);
  });
});

// ---------------------------------------------------------------------------------------------
describe('permission denied (child process as uid/gid 65534)', () => {
  test('an unreadable file gives an EACCES error naming it; every other value is present', () => {
    requireRoot('dropping to uid 65534');
    const v2 = copyOf(V2_LOADED);
    const v1 = copyOf(V1_FIXTURE);
    const v2file = path.join(v2, 'memory.stat');
    const v1file = path.join(v1, 'cpu', 'cpu.stat');
    fs.chmodSync(v2file, 0o000);
    fs.chmodSync(v1file, 0o000);
    const [a, b] = readInChild([v2, v1], { uid: 65534, gid: 65534 });
    assert.ok(a && b);
    assert.equal(a.uid, 65534);
    assert.equal(a.gid, 65534);

    assert.equal(a.gone, false);
    assert.deepEqual(a.errors, [{ type: 'EACCES', path: v2file, message: `cannot read ${v2file}: EACCES: permission denied, open '${v2file}'` }]);
    assert.deepEqual(a.stats, pristineWithout(V2_LOADED, 'memory.stat'));
    assert.ok(a.stats.version === 2);
    assert.equal(a.stats.memory?.current, 2117632);
    assert.equal(a.stats.cpu?.throttledUsec, 3269141);

    assert.equal(b.gone, false);
    assert.deepEqual(b.errors, [{ type: 'EACCES', path: v1file, message: `cannot read ${v1file}: EACCES: permission denied, open '${v1file}'` }]);
    assert.deepEqual(b.stats, pristineWithout(V1_FIXTURE, 'cpu.nrPeriods', 'cpu.nrThrottled', 'cpu.throttledTimeNs'));
    assert.ok(b.stats.version === 1);
    assert.equal(b.stats.cpu?.cfsQuotaUs, 50000);
    assert.equal(b.stats.memory?.limit, 199999488);
  });
});

// ---------------------------------------------------------------------------------------------
describe('garbage and truncated files in a fixture copy', () => {
  const cases: Array<{ src: string; file: string; content: string; drop: string[]; why: (f: string) => string }> = [
    { src: V2_LOADED, file: 'memory.stat', content: 'garbage', drop: ['memory.stat'], why: (f) => `cannot parse ${f}: no "key value" line` },
    {
      src: V2_LOADED,
      file: 'cpu.max',
      content: '50000',
      drop: ['cpu.maxQuotaUs', 'cpu.maxPeriodUs'],
      why: (f) => `cannot parse ${f}: expected "QUOTA PERIOD", got "50000"`,
    },
    {
      src: V2_LOADED,
      file: 'memory.current',
      content: 'garbage\n',
      drop: ['memory.current'],
      why: (f) => `cannot parse ${f}: expected an integer, got "garbage\\n"`,
    },
    { src: V2_LOADED, file: 'memory.max', content: '1999', drop: [], why: () => '' }, // truncated but still an integer: no error
    { src: V2_LOADED, file: 'pids.max', content: 'lots\n', drop: ['pids.max'], why: (f) => `cannot parse ${f}: expected an integer or max, got "lots\\n"` },
    {
      src: V2_LOADED,
      file: 'cpu.stat',
      content: 'usage_usec',
      drop: ['cpu.usageUsec', 'cpu.userUsec', 'cpu.systemUsec', 'cpu.nrPeriods', 'cpu.nrThrottled', 'cpu.throttledUsec'],
      why: (f) => `cannot parse ${f}: no "key value" line`,
    },
    { src: V2_LOADED, file: 'cpu.pressure', content: 'some avg10=7.97 avg60=1.43', drop: ['pressure.cpu'], why: (f) => `cannot parse ${f}: no some/full line` },
    {
      src: V1_FIXTURE,
      file: 'cpu/cpu.cfs_quota_us',
      content: '\x00\x01\xff',
      drop: ['cpu.cfsQuotaUs'],
      why: (f) => `cannot parse ${f}: expected an integer or max, got "\\u0000\\u0001ÿ"`,
    },
    {
      src: V1_FIXTURE,
      file: 'memory/memory.oom_control',
      content: 'oom_kill_disable',
      drop: ['memory.oomKill', 'memory.underOom'],
      why: (f) => `cannot parse ${f}: no "key value" line`,
    },
    { src: V1_FIXTURE, file: 'cpuacct/cpuacct.usage_percpu', content: '163347551 13865', drop: [], why: () => '' },
    {
      src: V1_FIXTURE,
      file: 'cpuacct/cpuacct.usage_percpu',
      content: '163347551 x',
      drop: ['cpu.percpuNs'],
      why: (f) => `cannot parse ${f}: expected integers`,
    },
  ];
  for (const c of cases) {
    test(`${path.basename(c.src)}/${c.file} = ${JSON.stringify(c.content)}`, () => {
      const dir = copyOf(c.src);
      const f = path.join(dir, c.file);
      fs.chmodSync(f, 0o644);
      fs.writeFileSync(f, c.content, 'latin1');
      const r = readRoot(dir);
      assert.equal(r.gone, false);
      const want = c.why(f);
      assert.deepEqual(r.errors, want ? [{ type: 'parse', path: f, message: want }] : []);
      const expected = pristineWithout(c.src, ...c.drop);
      if (c.file === 'memory.max') (expected as { memory: { max: number } }).memory.max = 1999;
      if (c.content === '163347551 13865') (expected as { cpu: { percpuNs: number[] } }).cpu.percpuNs = [163347551, 13865];
      assert.deepEqual(r.stats, expected);
    });
  }

  test('several bad files at once: one error each, in read order', () => {
    const dir = copyOf(V2_LOADED);
    for (const [name, content] of [
      ['memory.stat', 'garbage'],
      ['cpu.max', '50000'],
      ['io.pressure', ''],
    ] as const) {
      fs.chmodSync(path.join(dir, name), 0o644);
      fs.writeFileSync(path.join(dir, name), content);
    }
    const r = readRoot(dir);
    assert.deepEqual(
      r.errors.map((e) => [e.type, path.basename(e.path)]),
      [
        ['parse', 'cpu.max'],
        ['parse', 'memory.stat'],
        ['parse', 'io.pressure'],
      ],
    );
    assert.deepEqual(r.stats, pristineWithout(V2_LOADED, 'cpu.maxQuotaUs', 'cpu.maxPeriodUs', 'memory.stat', 'pressure.io'));
  });
});

// ---------------------------------------------------------------------------------------------
describe('special files planted in a fixture copy', () => {
  function mkfifo(p: string): void {
    fs.rmSync(p);
    const r = spawnSync('mkfifo', [p], { encoding: 'utf8' });
    assert.equal(r.status, 0, `mkfifo ${p}: ${r.stderr}`);
    assert.ok(fs.lstatSync(p).isFIFO());
  }

  test('a FIFO (no writer) in place of cpu.stat: the read returns promptly with an error for it, other values present', () => {
    const dir = copyOf(V1_FIXTURE);
    const fifo = path.join(dir, 'cpu', 'cpu.stat');
    mkfifo(fifo);
    // In a child with a time limit, so that a hang fails the test instead of stalling the run.
    const [c] = readInChild([dir]);
    assert.ok(c);
    assert.ok(c.ms < 2000, `readStats took ${c.ms} ms`);
    assert.equal(c.gone, false);
    assert.deepEqual(c.errors, [{ type: 'parse', path: fifo, message: `cannot parse ${fifo}: not a regular file` }]);
    assert.deepEqual(c.stats, pristineWithout(V1_FIXTURE, 'cpu.nrPeriods', 'cpu.nrThrottled', 'cpu.throttledTimeNs'));
  });

  test('a FIFO with a writer but no data (v2 memory.current): EAGAIN for it, promptly, other values present', () => {
    const dir = copyOf(V2_LOADED);
    const fifo = path.join(dir, 'memory.current');
    mkfifo(fifo);
    // O_RDWR on a FIFO does not block on Linux: this process is the writer that never writes.
    const fd = fs.openSync(fifo, 'r+');
    try {
      const [c] = readInChild([dir]);
      assert.ok(c);
      assert.ok(c.ms < 2000, `readStats took ${c.ms} ms`);
      assert.deepEqual(c.errors, [{ type: 'EAGAIN', path: fifo, message: `cannot read ${fifo}: EAGAIN: resource temporarily unavailable, read` }]);
      assert.deepEqual(c.stats, pristineWithout(V2_LOADED, 'memory.current'));
    } finally {
      fs.closeSync(fd);
    }
  });

  test('a directory in place of memory.peak gives EISDIR; /dev/null in place of pids.current is not a regular file', () => {
    const dir = copyOf(V2_LOADED);
    const peak = path.join(dir, 'memory.peak');
    const pidsCurrent = path.join(dir, 'pids.current');
    fs.rmSync(peak);
    fs.mkdirSync(peak);
    fs.rmSync(pidsCurrent);
    fs.symlinkSync('/dev/null', pidsCurrent);
    const r = readRoot(dir);
    assert.deepEqual(r.errors, [
      { type: 'EISDIR', path: peak, message: `cannot read ${peak}: EISDIR: illegal operation on a directory, read` },
      { type: 'parse', path: pidsCurrent, message: `cannot parse ${pidsCurrent}: not a regular file` },
    ]);
    assert.deepEqual(r.stats, pristineWithout(V2_LOADED, 'memory.peak', 'pids.current'));
  });

  test('/dev/zero in place of memory.stat: an EFBIG error at the 4 MiB cap, not an endless read', () => {
    const dir = copyOf(V2_LOADED);
    const stat = path.join(dir, 'memory.stat');
    fs.rmSync(stat);
    fs.symlinkSync('/dev/zero', stat);
    const r = readRoot(dir);
    assert.deepEqual(r.errors, [{ type: 'EFBIG', path: stat, message: `cannot read ${stat}: ${stat} is larger than ${4 << 20} bytes: not a cgroup file` }]);
    assert.deepEqual(r.stats, pristineWithout(V2_LOADED, 'memory.stat'));
  });

  test('garbage in io.stat (v2) and in a blkio file (v1) is a parse error, not an empty device list', () => {
    const v2 = copyOf(V2_LOADED);
    const io = path.join(v2, 'io.stat');
    fs.chmodSync(io, 0o644);
    fs.writeFileSync(io, 'garbage\n');
    const r2 = readRoot(v2);
    assert.deepEqual(r2.errors, [{ type: 'parse', path: io, message: `cannot parse ${io}: no "MAJ:MIN key=value" line` }]);
    assert.deepEqual(r2.stats.disk, { devices: [] });
    const v1 = copyOf(V1_FIXTURE);
    const blk = path.join(v1, 'blkio/blkio.bfq.io_service_bytes_recursive');
    fs.chmodSync(blk, 0o644);
    fs.writeFileSync(blk, 'not blkio\n');
    const r1 = readRoot(v1);
    assert.deepEqual(r1.errors, [{ type: 'parse', path: blk, message: `cannot parse ${blk}: no "MAJ:MIN Op value" row and no Total line` }]);
    assert.deepEqual(r1.stats.disk, { devices: [] });
  });

  test('an empty regular file is not an error (io.stat of a cgroup without I/O)', () => {
    const dir = copyOf(V2_LOADED);
    fs.chmodSync(path.join(dir, 'io.stat'), 0o644);
    fs.writeFileSync(path.join(dir, 'io.stat'), '');
    const r = readRoot(dir);
    assert.deepEqual(r.errors, []);
    const expected = pristineWithout(V2_LOADED);
    (expected as { disk: { devices: unknown[] } }).disk.devices = [];
    assert.deepEqual(r.stats, expected);
  });
});
