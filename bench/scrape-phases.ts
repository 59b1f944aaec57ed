// One Prometheus scrape of 1000 real v1 cgroups (+ cgroup2 twins) split into its phases —
// read, build, write (the page written by hand, as the endpoint does; the exporter's own
// PrometheusSerializer beside it, whole and in slices, and the pages compared), compress, send —
// against whole scrapes of the endpoint, gzipped and plain; gzip level 1 against zlib's default (6): time, CPU and size; and gzip of small pages
// (the GZIP_MIN_BYTES threshold). Every figure of a round is taken in the same round,
// alternating, so that the shared machine's noise hits the phases alike.
//   node --expose-gc --import tsx bench/scrape-phases.ts [TASKS]
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { GZIP_LEVEL, GZIP_MIN_BYTES, PROMETHEUS_CONTENT_TYPE, startPrometheusEndpoint } from '../src/export/prometheus.ts';
import { PrometheusTextWriter } from '../src/export/prometheus-text.ts';
import { serializeSliced } from '../src/export/sliced-serialize.ts';
import { CgroupMetrics } from '../src/index.ts';
import { LoopTicker } from './lib/loop-ticker.ts';
import { makeV1Cgroups, median, printTable, writeResults } from './lib/v1-cgroups.ts';

const N = Number(process.argv[2] ?? 1000);
const ROUNDS = 15;
const gzip = promisify(zlib.gzip);
/** The endpoint's serializer settings (the exporter's defaults). */
const serializer = new PrometheusSerializer('', false);

/** CPU of the whole process (main thread and libuv's pool, where zlib.gzip runs), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Response {
  bytes: number;
  encoding: string | undefined;
}
/** A GET read to its last byte, not decoded (Prometheus decodes on its side, not ours). */
function get(url: string, headers: Record<string, string>): Promise<Response> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.on('end', () => resolve({ bytes, encoding: res.headers['content-encoding'] }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** A server that sends a body made beforehand: the send phase alone, as the endpoint sends it. */
async function bodyServer(): Promise<{ url: string; set(body: string | Buffer, gzipped: boolean): void; close(): Promise<void> }> {
  let body: string | Buffer = '';
  let gzipped = false;
  const server = http.createServer((_req, res) => {
    res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE);
    res.setHeader('vary', 'Accept-Encoding');
    if (gzipped) res.setHeader('content-encoding', 'gzip');
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    set(b, g) {
      body = b;
      gzipped = g;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The read cycle of the collection that made `metrics`, in ms: the engine's
 * `cgroup_metrics.collection.duration` (its last cycle, i.e. this collection's read). The read
 * and the build are one call; this splits them exactly, in the same collection.
 */
function engineReadMs(metrics: ResourceMetrics): number {
  for (const scope of metrics.scopeMetrics)
    for (const metric of scope.metrics)
      if (/^cgroup_metrics[._]collection[._]duration/.test(metric.descriptor.name)) return Number(metric.dataPoints[0]?.value) * 1000;
  throw new Error('no cgroup_metrics.collection.duration in the collection');
}

interface Phase {
  name: string;
  run: () => Promise<void>;
  ms: number[];
  cpu: number[];
}

const cgroups = makeV1Cgroups(`ocm-bscr-${process.pid}`, N);
try {
  const engine = new CgroupMetrics();
  for (const [i, p] of cgroups.paths.entries()) engine.add({ id: `task-${i}`, namespace: 'bench', cgroup: p });
  // The agent's endpoint, its producer acknowledging each scrape (as --exporter prometheus).
  const endpoint = await startPrometheusEndpoint(engine.producer({ acknowledge: 'manual' }), {
    host: '127.0.0.1',
    port: 0,
    path: '/metrics',
    unitSuffixes: true,
    finalHoldMs: 0,
  });
  const mp = new MeterProvider({ readers: [endpoint.reader] });
  const sender = await bodyServer();
  const writer = new PrometheusTextWriter();

  // Each phase's input is the previous phase's output from the same round.
  let metrics: ResourceMetrics | undefined;
  /** The read phase of each measured collection: the engine's own read cycle, from its self metric. */
  const readMs: number[] = [];
  let page = '';
  let gz1: Buffer = Buffer.alloc(0);
  const scrapeStallMs: number[] = [];
  /** The same gaps less the time the main thread waited for a CPU in them. */
  const scrapeHeldMs: number[] = [];
  const sizes = { plain: 0, gzip1: 0, gzip6: 0, scrapedGzip: 0, scrapedPlain: 0 };
  const phase = (name: string, run: () => Promise<void>): Phase => ({ name, run, ms: [], cpu: [] });
  const phases = {
    collect: phase('collect (read + build)', async () => {
      metrics = (await endpoint.reader.collect()).resourceMetrics;
      readMs.push(engineReadMs(metrics));
    }),
    serialize: phase('serialize', async () => {
      page = serializer.serialize(metrics as ResourceMetrics);
      sizes.plain = Buffer.byteLength(page);
    }),
    // The serializer's own page in slices: what the endpoint falls back to for pages it does not write by hand.
    serializeSliced: phase('serialize, sliced', async () => {
      const sliced = await serializeSliced(serializer, metrics as ResourceMetrics);
      if (sliced !== page) throw new Error('the sliced page differs from the whole one');
    }),
    // What the endpoint does: the same page written by hand, in slices.
    write: phase('write (the endpoint)', async () => {
      const written = await writer.write(metrics as ResourceMetrics);
      if (written !== page) throw new Error("the written page differs from the serializer's");
    }),
    compress: phase(`compress, gzip level ${GZIP_LEVEL}`, async () => {
      gz1 = await gzip(page, { level: GZIP_LEVEL });
    }),
    sendGzip: phase('send, gzipped (loopback)', async () => {
      sender.set(gz1, true);
      const r = await get(sender.url, { 'accept-encoding': 'gzip' });
      if (r.bytes !== gz1.length) throw new Error(`sent ${r.bytes} of ${gz1.length} bytes`);
    }),
    sendPlain: phase('send, plain (loopback)', async () => {
      sender.set(page, false);
      const r = await get(sender.url, {});
      if (r.bytes !== sizes.plain) throw new Error(`sent ${r.bytes} of ${sizes.plain} bytes`);
    }),
    scrapeGzip: phase('whole scrape, Accept-Encoding: gzip', async () => {
      // The longest the event loop waited during the scrape (a 1 ms ticker's largest gap), and
      // how much of that gap the main thread waited for a CPU (bench/lib/loop-ticker.ts).
      const ticker = new LoopTicker();
      const r = await get(endpoint.url, { 'accept-encoding': 'gzip' }).finally(() => {
        const longest = ticker.stop();
        scrapeStallMs.push(longest.gapMs);
        scrapeHeldMs.push(longest.gapMs - longest.waitMs);
      });
      if (r.encoding !== 'gzip') throw new Error('the endpoint did not gzip');
      sizes.scrapedGzip = r.bytes;
    }),
    scrapePlain: phase('whole scrape, plain', async () => {
      const r = await get(endpoint.url, {});
      if (r.encoding !== undefined) throw new Error('the endpoint gzipped a plain request');
      sizes.scrapedPlain = r.bytes;
    }),
  };
  const order = Object.values(phases);
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let round = -3; round < ROUNDS; round++) {
    // A GC between rounds, not inside a phase: each phase pays for its own garbage alike.
    gc?.();
    for (const p of order) {
      const c0 = cpuMs();
      const t0 = performance.now();
      await p.run();
      const t = performance.now() - t0;
      const c = cpuMs() - c0;
      if (round >= 0) {
        p.ms.push(t);
        p.cpu.push(c);
      }
    }
  }

  // Level 1 against zlib's default level 6 on the last round's page, on their own: each after a
  // full GC (in the phase rounds the serialize phase's garbage is collected during the compress
  // phase that follows it, as in a real scrape), alternating which goes first.
  const levels = { 1: { ms: [] as number[], cpu: [] as number[] }, 6: { ms: [] as number[], cpu: [] as number[] } };
  for (let round = -2; round < ROUNDS; round++) {
    for (const level of round % 2 === 0 ? ([1, 6] as const) : ([6, 1] as const)) {
      gc?.();
      const c0 = cpuMs();
      const t0 = performance.now();
      const out = await gzip(page, { level });
      const t = performance.now() - t0;
      const c = cpuMs() - c0;
      if (level === 1) sizes.gzip1 = out.length;
      else sizes.gzip6 = out.length;
      if (round >= 0) {
        levels[level].ms.push(t);
        levels[level].cpu.push(c);
      }
    }
  }

  // Gzip of small pages (the head of the real page): is it worth it under GZIP_MIN_BYTES?
  const small: Array<{ bytes: number; gzipBytes: number; gzipUs: number }> = [];
  for (const bytes of [256, 512, GZIP_MIN_BYTES, 4096, 16_384, 65_536]) {
    const text = page.slice(0, bytes);
    const times: number[] = [];
    let out = 0;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      out = (await gzip(text, { level: GZIP_LEVEL })).length;
      times.push((performance.now() - t0) * 1000);
    }
    small.push({ bytes: Buffer.byteLength(text), gzipBytes: out, gzipUs: median(times) });
  }

  readMs.splice(0, readMs.length - ROUNDS); // the warm-up rounds' collections
  const m = (p: Phase): number => median(p.ms);
  const cpu = (p: Phase): number => median(p.cpu);
  // Per-round differences, so that a slow round's read and its build are paired.
  const build = median(phases.collect.ms.map((c, i) => c - (readMs[i] as number)));
  const split = [
    ['read', median(readMs)],
    ['build', build],
    ['write', m(phases.write)],
    ['compress', m(phases.compress)],
    ['send', m(phases.sendGzip)],
  ] as const;
  const sum = split.reduce((s, [, v]) => s + v, 0);
  const plainSum = m(phases.collect) + m(phases.write) + m(phases.sendPlain);
  const r = {
    tasks: N,
    rounds: ROUNDS,
    gzipLevel: GZIP_LEVEL,
    gzipMinBytes: GZIP_MIN_BYTES,
    medianMs: Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, m(p)])),
    medianCpuMs: Object.fromEntries(Object.entries(phases).map(([k, p]) => [k, cpu(p)])),
    readMs: median(readMs),
    buildMs: build,
    split: Object.fromEntries(split.map(([k, v]) => [k, { ms: v, share: v / sum }])),
    sumOfPhasesMs: sum,
    wholeScrapeGzipMs: m(phases.scrapeGzip),
    serializeSlicedOverWhole: m(phases.serializeSliced) / m(phases.serialize),
    writeOverSerialize: m(phases.write) / m(phases.serialize),
    scrapeLongestStallMs: { median: median(scrapeStallMs.slice(-ROUNDS)), max: Math.max(...scrapeStallMs.slice(-ROUNDS)) },
    scrapeLongestHeldMs: { median: median(scrapeHeldMs.slice(-ROUNDS)), max: Math.max(...scrapeHeldMs.slice(-ROUNDS)) },
    wholeScrapeOverSum: m(phases.scrapeGzip) / sum,
    plainSumOfPhasesMs: plainSum,
    wholeScrapePlainMs: m(phases.scrapePlain),
    gzipScrapeOverPlainScrape: m(phases.scrapeGzip) / m(phases.scrapePlain),
    gzipScrapeCpuOverPlainScrapeCpu: cpu(phases.scrapeGzip) / cpu(phases.scrapePlain),
    sizes,
    ratio: { gzip1: sizes.plain / sizes.gzip1, gzip6: sizes.plain / sizes.gzip6 },
    levels: {
      1: { ms: median(levels[1].ms), cpuMs: median(levels[1].cpu), bytes: sizes.gzip1 },
      6: { ms: median(levels[6].ms), cpuMs: median(levels[6].cpu), bytes: sizes.gzip6 },
    },
    level6OverLevel1: {
      time: median(levels[6].ms) / median(levels[1].ms),
      cpu: median(levels[6].cpu) / median(levels[1].cpu),
      bytes: sizes.gzip6 / sizes.gzip1,
    },
    small,
  };
  const ms = (v: number): string => `${v.toFixed(1)} ms`;
  const pct = (v: number): string => `${((v / sum) * 100).toFixed(1)} %`;
  printTable(`a scrape of ${N} tasks on real v1 cgroups, split into phases (median of ${ROUNDS} alternating rounds)`, [
    ...split.map(([k, v]): [string, string] => [k, `${ms(v).padStart(9)}  ${pct(v).padStart(7)}`]),
    ['sum of the phases', `${ms(sum).padStart(9)}`],
    ['whole scrape, gzip', `${ms(m(phases.scrapeGzip)).padStart(9)}  (${r.wholeScrapeOverSum.toFixed(2)} × the sum; CPU ${ms(cpu(phases.scrapeGzip))})`],
    ['whole scrape, plain', `${ms(m(phases.scrapePlain)).padStart(9)}  (phases ${ms(plainSum)}; CPU ${ms(cpu(phases.scrapePlain))})`],
    ['gzip / plain scrape', `time ${r.gzipScrapeOverPlainScrape.toFixed(2)} ×, CPU ${r.gzipScrapeCpuOverPlainScrapeCpu.toFixed(2)} ×`],
    [
      "the exporter's serializer, one call",
      `${ms(m(phases.serialize))}; in slices ${ms(m(phases.serializeSliced))} = ${r.serializeSlicedOverWhole.toFixed(2)} ×`,
    ],
    ['write (by hand) / serializer', `${r.writeOverSerialize.toFixed(3)} ×`],
    [
      'longest event-loop stall in a scrape',
      `median ${ms(r.scrapeLongestStallMs.median)}, max ${ms(r.scrapeLongestStallMs.max)}; less the waits for a CPU in it: median ${ms(r.scrapeLongestHeldMs.median)}, max ${ms(r.scrapeLongestHeldMs.max)}`,
    ],
  ]);
  printTable(`compression of the page (median of ${ROUNDS} alternating, each after a full GC)`, [
    ['page', `${sizes.plain} bytes; send plain ${ms(m(phases.sendPlain))}, gzipped ${ms(m(phases.sendGzip))} (loopback)`],
    ['gzip level 1', `${sizes.gzip1} bytes (${r.ratio.gzip1.toFixed(1)} ×), ${ms(r.levels[1].ms)}, CPU ${ms(r.levels[1].cpuMs)}`],
    ['gzip level 6', `${sizes.gzip6} bytes (${r.ratio.gzip6.toFixed(1)} ×), ${ms(r.levels[6].ms)}, CPU ${ms(r.levels[6].cpuMs)}`],
    [
      'level 6 / level 1',
      `time ${r.level6OverLevel1.time.toFixed(2)} ×, CPU ${r.level6OverLevel1.cpu.toFixed(2)} ×, bytes ${r.level6OverLevel1.bytes.toFixed(2)} ×`,
    ],
  ]);
  printTable(
    `gzip level ${GZIP_LEVEL} of small pages (median of 200)`,
    small.map((s): [string, string] => [`${s.bytes} bytes`, `→ ${s.gzipBytes} bytes in ${s.gzipUs.toFixed(0)} µs`]),
  );
  console.log(`  results: ${writeResults('scrape-phases', r)}`);
  await sender.close();
  await mp.shutdown();
  await endpoint.close();
} finally {
  cgroups.cleanup();
}
