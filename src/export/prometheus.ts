import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { diag } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { EndpointStartError } from '../errors.ts';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { collectDeliveries } from '../metrics/deliveries.ts';
import { prometheusNamingProducer } from './prometheus-naming.ts';
import type { ExporterSettings, PrometheusSettings } from './settings.ts';

export interface PrometheusEndpoint {
  /** The reader to register with the MeterProvider. */
  reader: PrometheusExporter;
  /** The URL scrapers use, e.g. http://localhost:9464/metrics. */
  url: string;
  close(): Promise<void>;
}

/** The exporter's own serializer settings (its defaults): the page is what its handler would write. */
const serializer = new PrometheusSerializer('', false);

/**
 * One GET: a collection, and the page. The final readings it carried are acknowledged only
 * once the whole page was handed to the kernel on a connection still intact; a client gone
 * before that gets them again at its next scrape. A client that goes away after the last byte
 * left cannot be told apart from one that read it.
 */
async function scrape(reader: PrometheusExporter, res: http.ServerResponse): Promise<void> {
  let page: string;
  try {
    const { result, deliveries } = await collectDeliveries(() => reader.collect());
    if (result.errors.length) diag.error('PrometheusExporter: metrics collection errors', ...result.errors);
    page = serializer.serialize(result.resourceMetrics);
    // 'finish' comes even when the client reset the connection mid-page (the pending write is
    // dropped with an error): only a socket that is still whole proves the page left in full.
    const socket = res.socket;
    res.once('finish', () => {
      if (socket && !socket.destroyed && socket.errored == null) deliveries.acknowledge();
    });
  } catch (err) {
    res.statusCode = 500;
    page = `# failed to export metrics: ${err}`;
  }
  res.end(page);
}

/**
 * The pull endpoint: @opentelemetry/exporter-prometheus mounted on our own HTTP server
 * (preventServerStart), so that a port in use is a clear typed error before anything else
 * starts, and the host defaults to localhost rather than every interface. Only GET collects;
 * HEAD answers the headers without a collection (it has no body to carry final readings);
 * other methods get 405. Pass a producer with `acknowledge: 'manual'` for final readings that
 * count as delivered only with a completed response; an `auto` one counts them at collection.
 */
export async function startPrometheusEndpoint(producer: MetricProducer, config: PrometheusSettings): Promise<PrometheusEndpoint> {
  const reader = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [config.unitSuffixes ? prometheusNamingProducer(producer) : producer],
  });
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
    res.setHeader('content-type', 'text/plain');
    if (req.method === 'HEAD') res.end();
    else void scrape(reader, res);
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
