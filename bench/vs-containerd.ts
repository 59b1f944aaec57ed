// Side by side with containerd's own /v1/metrics (issue 12): CONTAINERS (default 50) real
// running containers in a private containerd (the tests' own, test/helpers/runtimes.ts), the
// built agent beside it discovering them (its Prometheus endpoint), and scrapes of the two that
// alternate, round by round, gzip on and off (Accept-Encoding: gzip / identity), the order
// rotating. For each scrape:
//   latency — request sent → last byte of the body read (loopback; the body is not decoded);
//   CPU     — of the scraped side only: the agent process, or containerd + its shims (every
//             containerd and containerd-shim* process whose command line names this private
//             containerd), from /proc/<pid>/stat utime+stime (clock ticks: 10 ms, summed over a
//             kind's scrapes) and, finer, /proc/<pid>/task/*/schedstat (ns on a CPU, per
//             thread); the window runs from just before the request to SETTLE_MS after the
//             last byte (work a scrape leaves behind: GC, the shims' replies) and the side's
//             idle rate, measured before and after the rounds, is subtracted;
//   size    — the bytes on the wire, and the page once decoded.
// Targets: the agent ≤ 0.3 × containerd's latency and ≤ 0.25 × its CPU per scrape (gzip on,
// as Prometheus always asks). Prints a table and writes bench/results/vs-containerd.json.
//   npm run build && node --import tsx bench/vs-containerd.ts [CONTAINERS] [ROUNDS]
// Needs root, containerd, runc and busybox-static (scripts/install-peers.sh). Stops and
// removes every container, cgroup and process it made at the end, on errors and on signals.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import * as zlib from 'node:zlib';
import { freePort } from '../test/helpers/peers.ts';
import { makeBusyboxRootfs, pidsWithCmdline, startContainerd } from '../test/helpers/runtimes.ts';
import { median, percentile, printTable, writeResults } from './lib/v1-cgroups.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(REPO, 'dist/cli/main.js');
const CONTAINERS = Number(process.argv[2] ?? 50);
const ROUNDS = Number(process.argv[3] ?? 40);
const WARM_ROUNDS = 5;
const SETTLE_MS = 100;
const IDLE_MS = 5000;
const LATENCY_TARGET = 0.3;
const CPU_TARGET = 0.25;
const CLK_TCK = 100;

if (process.getuid?.() !== 0) throw new Error('the benchmark runs containers: run it as root');
if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build first`);

// ------------------------------------------------------------------ CPU of a set of processes

interface Cpu {
  /** utime + stime, ms (clock ticks). */
  statMs: number;
  /** Sum over threads of schedstat's time on a CPU, ms. */
  schedMs: number;
}
function cpuOf(pids: number[]): Cpu {
  let ticks = 0;
  let ns = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // fields 14, 15: utime, stime
      for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
          ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'latin1').split(' ')[0]);
        } catch {
          // the thread exited
        }
      }
    } catch {
      // the process exited
    }
  }
  return { statMs: (ticks * 1000) / CLK_TCK, schedMs: ns / 1e6 };
}

// ------------------------------------------------------------------ scrapes

interface Got {
  ms: number;
  wireBytes: number;
  body: Buffer;
  encoding: string | undefined;
  status: number;
}
function get(url: string, gzip: boolean): Promise<Got> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http
      .get(url, { headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          const body = Buffer.concat(chunks);
          resolve({ ms, wireBytes: body.length, body, encoding: res.headers['content-encoding'], status: res.statusCode ?? 0 });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}
const decoded = (g: Got): string => (g.encoding === 'gzip' ? zlib.gunzipSync(g.body) : g.body).toString('utf8');

// ------------------------------------------------------------------ setup and cleanup

const ns = `ocm-bvs-${process.pid}`;
const ctrd = await startContainerd();
const rootfs = await makeBusyboxRootfs();
const port = await freePort();
const pattern = `^/(?<namespace>${ns})/(?<id>[^/]+)$`;
let agent: ReturnType<typeof spawn> | undefined;
let cleaning: Promise<void> | undefined;
const cleanup = (): Promise<void> =>
  (cleaning ??= (async () => {
    if (agent?.pid !== undefined && agent.exitCode === null) agent.kill('SIGKILL');
    await ctrd.stop(); // kills and deletes the containers, the daemon and its shims; removes the cgroups
    await rootfs.remove();
  })());
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => void cleanup().finally(() => process.exit(130)));
process.on('exit', () => {
  if (agent?.pid !== undefined && agent.exitCode === null) agent.kill('SIGKILL');
});

try {
  // runc leaves the namespace's parent cgroups behind after its first container: make them first,
  // so that the agent watches the namespace from its start.
  await ctrd.ctrOk(['-n', ns, 'run', '--rm', '--rootfs', rootfs.root, 'warm-up', '/bin/true']);
  const t0 = performance.now();
  for (let i = 0; i < CONTAINERS; i++)
    await ctrd.ctrOk(['-n', ns, 'run', '-d', '--rootfs', rootfs.root, `c${i}`, '/bin/sh', '-c', 'while :; do sleep 1; done'], { timeoutMs: 60_000 });
  console.error(`${CONTAINERS} containers running (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  let err = '';
  agent = spawn(process.execPath, [CLI, '--layouts=', '--layout-pattern', pattern, '--prometheus-host', '127.0.0.1', '--prometheus-port', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  agent.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  for (const deadline = Date.now() + 30_000; !/Prometheus metrics at/.test(err); await sleep(50))
    if (agent.exitCode !== null || Date.now() > deadline) throw new Error(`the agent did not start: ${err}`);
  const agentUrl = `http://127.0.0.1:${port}/metrics`;
  const theirUrl = ctrd.metricsUrl;

  // Both must show every container before the rounds.
  const idsIn = (page: string, re: RegExp): number => new Set([...page.matchAll(re)].map((m) => m[1])).size;
  const oursRe = new RegExp(`container_id="(c\\d+)"[^\\n]*container_namespace="${ns}"|container_namespace="${ns}"[^\\n]*container_id="(c\\d+)"`, 'g');
  const oursIds = (page: string): number => new Set([...page.matchAll(oursRe)].map((m) => m[1] ?? m[2])).size;
  const theirsRe = new RegExp(`container_id="(c\\d+)",namespace="${ns}"|namespace="${ns}"[^\\n]*container_id="(c\\d+)"|container_id="(c\\d+)"`, 'g');
  let seen = { ours: 0, theirs: 0 };
  for (const deadline = Date.now() + 60_000; ; await sleep(250)) {
    seen = { ours: oursIds(decoded(await get(agentUrl, false))), theirs: idsIn(decoded(await get(theirUrl, false)), theirsRe) };
    if (seen.ours >= CONTAINERS && seen.theirs >= CONTAINERS) break;
    if (Date.now() > deadline) throw new Error(`after 60 s the agent shows ${seen.ours} and containerd ${seen.theirs} of ${CONTAINERS} containers`);
  }

  const agentPids = [agent.pid as number];
  const theirPids = (): number[] => pidsWithCmdline(ctrd.dir); // containerd (--config DIR/...) and its shims (-address DIR/...)
  const nTheirs = theirPids().length;

  const idleRate = async (): Promise<{ ours: number; theirs: number }> => {
    const a0 = cpuOf(agentPids);
    const c0 = cpuOf(theirPids());
    const t = performance.now();
    await sleep(IDLE_MS);
    const dt = performance.now() - t;
    return { ours: (cpuOf(agentPids).schedMs - a0.schedMs) / dt, theirs: (cpuOf(theirPids()).schedMs - c0.schedMs) / dt };
  };
  const idleBefore = await idleRate();

  type Kind = 'ours-gzip' | 'theirs-gzip' | 'ours-plain' | 'theirs-plain';
  const kinds: Kind[] = ['ours-gzip', 'theirs-gzip', 'ours-plain', 'theirs-plain'];
  interface Sample {
    ms: number;
    cpuStatMs: number;
    cpuSchedMs: number;
    windowMs: number;
    wireBytes: number;
  }
  const samples = new Map<Kind, Sample[]>(kinds.map((k) => [k, []]));
  const pages = new Map<Kind, { wireBytes: number; pageBytes: number; encoding: string | undefined; samples: number }>();
  for (let round = -WARM_ROUNDS; round < ROUNDS; round++) {
    for (let j = 0; j < kinds.length; j++) {
      const kind = kinds[(((round + j) % kinds.length) + kinds.length) % kinds.length] as Kind;
      const ours = kind.startsWith('ours');
      const pids = ours ? agentPids : theirPids();
      const c0 = cpuOf(pids);
      const w0 = performance.now();
      const g = await get(ours ? agentUrl : theirUrl, kind.endsWith('gzip'));
      if (g.status !== 200) throw new Error(`${kind}: HTTP ${g.status}`);
      await sleep(SETTLE_MS);
      const c1 = cpuOf(pids);
      const windowMs = performance.now() - w0;
      if (round < 0) continue;
      samples.get(kind)?.push({ ms: g.ms, cpuStatMs: c1.statMs - c0.statMs, cpuSchedMs: c1.schedMs - c0.schedMs, windowMs, wireBytes: g.wireBytes });
      if (!pages.has(kind)) {
        const page = decoded(g);
        pages.set(kind, {
          wireBytes: g.wireBytes,
          pageBytes: Buffer.byteLength(page),
          encoding: g.encoding,
          samples: page.split('\n').filter((l) => l && !l.startsWith('#')).length,
        });
      }
    }
  }
  const idleAfter = await idleRate();
  const idle = { ours: (idleBefore.ours + idleAfter.ours) / 2, theirs: (idleBefore.theirs + idleAfter.theirs) / 2 };

  interface KindSummary {
    latencyMs: { median: number; p90: number; min: number };
    cpuMsPerScrape: { schedNetMedian: number; schedNetMean: number; schedRawMean: number; statRawMean: number; statNetMean: number };
    page: { wireBytes: number; pageBytes: number; encoding: string | undefined; samples: number } | undefined;
  }
  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  const summarize = (k: Kind): KindSummary => {
    const s = samples.get(k) as Sample[];
    const idleRateMsPerMs = k.startsWith('ours') ? idle.ours : idle.theirs;
    const net = s.map((x) => x.cpuSchedMs - idleRateMsPerMs * x.windowMs);
    return {
      latencyMs: {
        median: median(s.map((x) => x.ms)),
        p90: percentile(
          s.map((x) => x.ms),
          90,
        ),
        min: Math.min(...s.map((x) => x.ms)),
      },
      cpuMsPerScrape: {
        schedNetMedian: median(net),
        schedNetMean: sum(net) / s.length,
        schedRawMean: sum(s.map((x) => x.cpuSchedMs)) / s.length,
        statRawMean: sum(s.map((x) => x.cpuStatMs)) / s.length,
        statNetMean: (sum(s.map((x) => x.cpuStatMs)) - idleRateMsPerMs * sum(s.map((x) => x.windowMs))) / s.length,
      },
      page: pages.get(k),
    };
  };
  const summary: Record<Kind, KindSummary> = {
    'ours-gzip': summarize('ours-gzip'),
    'theirs-gzip': summarize('theirs-gzip'),
    'ours-plain': summarize('ours-plain'),
    'theirs-plain': summarize('theirs-plain'),
  };
  // Ratios per round (the rounds interleave the four kinds).
  const perRound = (a: Kind, b: Kind, f: (x: Sample, k: Kind) => number): number =>
    median((samples.get(a) as Sample[]).map((x, i) => f(x, a) / f((samples.get(b) as Sample[])[i] as Sample, b)));
  const lat = (x: Sample): number => x.ms;
  const netCpu = (x: Sample, k: Kind): number => x.cpuSchedMs - (k.startsWith('ours') ? idle.ours : idle.theirs) * x.windowMs;
  const ratios = {
    latencyGzip: perRound('ours-gzip', 'theirs-gzip', lat),
    latencyPlain: perRound('ours-plain', 'theirs-plain', lat),
    cpuGzip: summary['ours-gzip'].cpuMsPerScrape.schedNetMean / summary['theirs-gzip'].cpuMsPerScrape.schedNetMean,
    cpuPlain: summary['ours-plain'].cpuMsPerScrape.schedNetMean / summary['theirs-plain'].cpuMsPerScrape.schedNetMean,
    cpuGzipMedianOfRounds: perRound('ours-gzip', 'theirs-gzip', netCpu),
    cpuGzipStatTicks: summary['ours-gzip'].cpuMsPerScrape.statNetMean / summary['theirs-gzip'].cpuMsPerScrape.statNetMean,
    cpuPlainStatTicks: summary['ours-plain'].cpuMsPerScrape.statNetMean / summary['theirs-plain'].cpuMsPerScrape.statNetMean,
  };
  const res = {
    date: new Date().toISOString(),
    containers: CONTAINERS,
    rounds: ROUNDS,
    settleMs: SETTLE_MS,
    host: { node: process.version, cpus: os.cpus().length, kernel: os.release(), load: os.loadavg() },
    containerdProcesses: nTheirs,
    seen,
    idleCpuShare: { before: idleBefore, after: idleAfter },
    summary,
    ratios,
    targets: {
      latency: { ratio: ratios.latencyGzip, max: LATENCY_TARGET, pass: ratios.latencyGzip <= LATENCY_TARGET },
      cpu: { ratio: ratios.cpuGzip, max: CPU_TARGET, pass: ratios.cpuGzip <= CPU_TARGET },
    },
  };
  const f1 = (x: number): string => x.toFixed(1);
  const row = (k: Kind): [string, string] => {
    const s = summary[k];
    const p = pages.get(k);
    return [
      k,
      `latency ${f1(s.latencyMs.median)} ms (p90 ${f1(s.latencyMs.p90)}); CPU ${f1(s.cpuMsPerScrape.schedNetMean)} ms/scrape (schedstat, idle taken off; raw ${f1(s.cpuMsPerScrape.schedRawMean)}; utime+stime ${f1(s.cpuMsPerScrape.statRawMean)}); ${p?.wireBytes} B on the wire (${p?.encoding ?? 'plain'}), page ${p?.pageBytes} B, ${p?.samples} samples`,
    ];
  };
  printTable(
    `the agent vs containerd /v1/metrics: ${CONTAINERS} running containers, ${ROUNDS} rounds of 4 alternating scrapes (containerd + ${nTheirs - 1} shims); load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
    [
      row('ours-gzip'),
      row('theirs-gzip'),
      row('ours-plain'),
      row('theirs-plain'),
      ['idle CPU (share of a core), ours / theirs', `${(idle.ours * 100).toFixed(2)} % / ${(idle.theirs * 100).toFixed(2)} %`],
      [
        'latency, ours / theirs (median of rounds)',
        `gzip ${ratios.latencyGzip.toFixed(3)} ×, plain ${ratios.latencyPlain.toFixed(3)} ×; target ≤ ${LATENCY_TARGET}: ${res.targets.latency.pass ? 'PASS' : 'FAIL'}`,
      ],
      [
        'CPU per scrape, ours / theirs',
        `gzip ${ratios.cpuGzip.toFixed(3)} × (median of rounds ${ratios.cpuGzipMedianOfRounds.toFixed(3)} ×; utime+stime ${ratios.cpuGzipStatTicks.toFixed(3)} ×), plain ${ratios.cpuPlain.toFixed(3)} × (utime+stime ${ratios.cpuPlainStatTicks.toFixed(3)} ×); target ≤ ${CPU_TARGET}: ${res.targets.cpu.pass ? 'PASS' : 'FAIL'}`,
      ],
    ],
  );
  console.log(`  results: ${writeResults('vs-containerd', res)}`);
} finally {
  await cleanup();
}
