import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { diag } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { EndpointStartError } from '../errors.ts';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { collectDeliveries } from '../metrics/deliveries.ts';
import { prometheusNamingProducer } from './prometheus-naming.ts';
import type { ExporterSettings, PrometheusSettings } from './settings.ts';
import { PrometheusTextWriter } from './prometheus-text.ts';

export interface PrometheusEndpoint {
  /** The reader to register with the MeterProvider. */
  reader: PrometheusExporter;
  /** The URL scrapers use, e.g. http://localhost:9464/metrics. */
  url: string;
  /** Pages written so far by hand, and pages left to the exporter's serializer (PrometheusTextWriter). */
  readonly pages: Readonly<PrometheusTextWriter['pages']>;
  close(): Promise<void>;
}

/**
 * The text exposition format's content type with its version: Prometheus 3 picks its parser by
 * it (and fails a scrape whose type it cannot tell, unless the job sets a fallback).
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * zlib level 1: the page is made anew at every scrape, so compression is paid each time. At
 * 1000 tasks level 1 takes ~0.57× the CPU of zlib's default level 6 (~8–10 ms for a 4 MB page)
 * for a result only 16 % larger (42× smaller than the page instead of 48×):
 * bench/scrape-phases.ts, BENCHMARKS.md.
 */
export const GZIP_LEVEL = 1;

/**
 * Pages shorter than this go plain even to a client that accepts gzip: they fit in one
 * Ethernet frame as they are, so gzip saves no packet, yet costs ~70 µs (a deflate state of
 * ~256 KiB and a round trip to the thread pool; bench/scrape-phases.ts).
 */
export const GZIP_MIN_BYTES = 1400;

const gzip = promisify(zlib.gzip);

/**
 * Whether an Accept-Encoding header admits gzip (RFC 9110 12.5.3): a `gzip` (or `x-gzip`)
 * coding with a non-zero q, else `*` with a non-zero q when gzip is not named.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  if (header === undefined) return false;
  let star = false;
  for (const item of (Array.isArray(header) ? header.join(',') : header).split(',')) {
    const [coding = '', ...params] = item.split(';').map((p) => p.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const ok = Number.isFinite(q) && q > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return ok;
    if (coding === '*') star = ok;
  }
  return star;
}

/**
 * One GET: a collection, and the page, gzipped when the client accepts it and the page is
 * worth it. The page is written in slices (PrometheusTextWriter) and compressed on libuv's thread pool, so a 5 MiB
 * page never stalls the event loop; it is done before any byte is sent, so a failure of it is a plain 500 that
 * acknowledges nothing. The final readings the page carried are acknowledged only once the
 * whole body (gzipped or not) was handed to the kernel on a connection still intact; a client
 * gone before that, mid-page or mid-gzip-stream alike, gets them again at its next scrape. A
 * client that goes away after the last byte left cannot be told apart from one that read it.
 */
async function scrape(reader: PrometheusExporter, writer: PrometheusTextWriter, res: http.ServerResponse, wantsGzip: boolean): Promise<void> {
  let body: string | Buffer;
  try {
    const { result, deliveries } = await collectDeliveries(() => reader.collect());
    if (result.errors.length) diag.error('PrometheusExporter: metrics collection errors', ...result.errors);
    const page = await writer.write(result.resourceMetrics);
    // A string's length never exceeds its UTF-8 byte count: a cheap test of the threshold.
    if (wantsGzip && page.length >= GZIP_MIN_BYTES) {
      body = await gzip(page, { level: GZIP_LEVEL });
      res.setHeader('content-encoding', 'gzip');
    } else body = page;
    // 'finish' comes even when the client reset the connection mid-page (the pending write is
    // dropped with an error): only a socket that is still whole proves the page left in full.
    const socket = res.socket;
    res.once('finish', () => {
      if (socket && !socket.destroyed && socket.errored == null) deliveries.acknowledge();
    });
  } catch (err) {
    res.statusCode = 500;
    res.removeHeader('content-encoding');
    body = `# failed to export metrics: ${err}`;
  }
  res.end(body);
}

/**
 * The pull endpoint: @opentelemetry/exporter-prometheus mounted on our own HTTP server
 * (preventServerStart), so that a port in use is a clear typed error before anything else
 * starts, and the host defaults to localhost rather than every interface. Only GET collects;
 * HEAD answers the headers without a collection (it has no body to carry final readings);
 * other methods get 405. A GET whose Accept-Encoding admits gzip gets a gzipped page (Prometheus
 * always asks for it), except pages under GZIP_MIN_BYTES. Pass a producer with
 * `acknowledge: 'manual'` for final readings that count as delivered only with a completed
 * response; an `auto` one counts them at collection.
 */
export async function startPrometheusEndpoint(producer: MetricProducer, config: PrometheusSettings): Promise<PrometheusEndpoint> {
  const reader = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [config.unitSuffixes ? prometheusNamingProducer(producer) : producer],
  });
  // The page its exporter's serializer (with its defaults) would write, written by hand.
  const writer = new PrometheusTextWriter();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== config.path) {
      res.statusCode = 404;
      res.end(`metrics are at ${config.path}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end(`${req.method} not allowed: metrics are read with GET\n`);
      return;
    }
    res.statusCode = 200;
    res.setHeader('content-type', PROMETHEUS_CONTENT_TYPE);
    // The body depends on Accept-Encoding: caches must key on it.
    res.setHeader('vary', 'Accept-Encoding');
    // HEAD has no Content-Encoding: whether the page is gzipped depends on its size, known only
    // once it is made, and RFC 9110 9.3.2 lets HEAD omit such fields.
    if (req.method === 'HEAD') res.end();
    else void scrape(reader, writer, res, acceptsGzip(req.headers['accept-encoding']));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new EndpointStartError(config.host, config.port, err)));
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    reader,
    url: `http://${config.host === 'localhost' ? 'localhost' : host}:${addr.port}${config.path}`,
    pages: writer.pages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `--exporter prometheus`: the pull endpoint, with a producer whose final readings stay `finalHoldMs` after their first scrape. */
export const prometheusExporter = {
  name: 'prometheus',
  async start(engine: CgroupMetrics, settings: ExporterSettings) {
    const endpoint = await startPrometheusEndpoint(
      engine.producer({ finalHoldMs: settings.prometheus.finalHoldMs, acknowledge: 'manual' }),
      settings.prometheus,
    );
    return { reader: endpoint.reader, endpoint };
  },
} as const;
