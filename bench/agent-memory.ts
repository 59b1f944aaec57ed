// The built agent's live heap under container churn: a real containerd (the tests' own, on a
// private socket) runs short `ctr run --rm` busybox containers, two at a time, for DURATION
// seconds (default 280) while the agent discovers them and is scraped every second. Every 40 s
// the agent gets SIGUSR2 (node's --heapsnapshot-signal: a heap snapshot, which runs a full GC
// first) and --trace-gc gives the heap left after that GC: the live heap. RSS is no measure of
// a leak here (it holds up to a minute of garbage between V8's full GCs).
//
//   npm run build && node --import tsx bench/agent-memory.ts [DURATION_S]
//
// Needs root, containerd, runc and busybox-static (scripts/install-peers.sh).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makeBusyboxRootfs, startContainerd } from '../test/helpers/runtimes.ts';
import { printTable, writeResults } from './lib/v1-cgroups.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist/cli/main.js');
const DURATION_MS = Number(process.argv[2] ?? 280) * 1000;
const PROBE_MS = 40_000;

if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build first`);
const ctrd = await startContainerd();
const rootfs = await makeBusyboxRootfs();
const snapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ocm-heap-'));
const ns = `ocm-bmem-${process.pid}`;
const pattern = `^/(?<namespace>${ns})/(?<id>[^/]+)$`;
const port = 20_000 + (process.pid % 20_000);
const agent = spawn(
  process.execPath,
  [
    '--trace-gc',
    '--heapsnapshot-signal=SIGUSR2',
    `--diagnostic-dir=${snapDir}`,
    CLI,
    '--layouts=',
    '--layout-pattern',
    pattern,
    '--prometheus-host',
    '127.0.0.1',
    '--prometheus-port',
    String(port),
  ],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
const cleanup = async (): Promise<void> => {
  agent.kill('SIGKILL');
  await ctrd.stop();
  await rootfs.remove();
  fs.rmSync(snapDir, { recursive: true, force: true });
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));

try {
  let out = '';
  let err = '';
  agent.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  agent.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  // runc leaves the namespace's cgroup directories after its first container: make them first.
  await ctrd.ctrOk(['-n', ns, 'run', '--rm', '--rootfs', rootfs.root, 'warm-up', '/bin/true']);
  for (const deadline = Date.now() + 30_000; !/Prometheus metrics at/.test(err); await sleep(50)) {
    if (agent.exitCode !== null || Date.now() > deadline) throw new Error(`the agent did not start: ${err}`);
  }
  const fullGcs = (): number[] => [...out.matchAll(/ ms: Mark-Compact[^\n]*? -> ([\d.]+) \(/g)].map((m) => Number(m[1]));
  const liveHeapMb = async (): Promise<number> => {
    const n = fullGcs().length;
    agent.kill('SIGUSR2');
    for (const deadline = Date.now() + 20_000; fullGcs().length === n; await sleep(100)) if (Date.now() > deadline) throw new Error('no full GC after SIGUSR2');
    for (const f of fs.readdirSync(snapDir)) fs.rmSync(path.join(snapDir, f), { force: true });
    return Math.min(...fullGcs().slice(n));
  };

  const t0 = Date.now();
  let containers = 0;
  let failures = 0;
  const loop = async (w: number): Promise<void> => {
    for (let k = 0; Date.now() - t0 < DURATION_MS; k++) {
      containers++;
      const r = await ctrd.ctr(
        ['-n', ns, 'run', '--rm', '--rootfs', rootfs.root, `c${w}-${k}`, '/bin/sh', '-c', 'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done'],
        { timeoutMs: 60_000 },
      );
      if (r.code !== 0) failures++;
    }
  };
  const scraper = (async () => {
    while (Date.now() - t0 < DURATION_MS) {
      await fetch(`http://127.0.0.1:${port}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      await sleep(1000);
    }
  })();
  const samples: Array<{ s: number; containers: number; liveHeapMb: number }> = [];
  const probe = (async () => {
    for (let k = 1; (k - 1) * PROBE_MS < DURATION_MS; k++) {
      await sleep(Math.max(0, t0 + k * PROBE_MS - Date.now()));
      if (Date.now() - t0 > DURATION_MS + 5_000) break;
      const mb = await liveHeapMb();
      samples.push({ s: Math.round((Date.now() - t0) / 1000), containers, liveHeapMb: mb });
      console.log(`${samples.at(-1)?.s} s: ${containers} containers, live heap ${mb} MB`);
    }
  })();
  await Promise.all([loop(0), loop(1), scraper, probe]);
  const first = samples[0];
  const last = samples.at(-1);
  const fromSecond = samples[1];
  printTable(`The agent's live heap under churn (${containers} short containers in ${DURATION_MS / 1000} s, ${failures} ctr failures)`, [
    ...samples.map((x): [string, string] => [`at ${x.s} s (${x.containers} containers)`, `${x.liveHeapMb} MB`]),
    ['growth, first probe to last', `${((last?.liveHeapMb ?? NaN) - (first?.liveHeapMb ?? NaN)).toFixed(1)} MB`],
    [
      'growth, second probe to last (after warm-up)',
      `${((last?.liveHeapMb ?? NaN) - (fromSecond?.liveHeapMb ?? NaN)).toFixed(1)} MB over ${(last?.containers ?? 0) - (fromSecond?.containers ?? 0)} containers`,
    ],
  ]);
  console.log(`  results: ${writeResults('agent-memory', { durationS: DURATION_MS / 1000, containers, failures, samples })}`);
} finally {
  await cleanup();
}
