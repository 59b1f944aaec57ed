import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { EndpointStartError } from '../errors.ts';
import type { CgroupMetrics } from '../metrics/cgroup-metrics.ts';
import { prometheusNamingProducer } from './prometheus-naming.ts';
import type { ExporterSettings, PrometheusSettings } from './settings.ts';

export interface PrometheusEndpoint {
  /** The reader to register with the MeterProvider. */
  reader: PrometheusExporter;
  /** The URL scrapers use, e.g. http://localhost:9464/metrics. */
  url: string;
  close(): Promise<void>;
}

/**
 * The pull endpoint: @opentelemetry/exporter-prometheus mounted on our own HTTP server
 * (preventServerStart), so that a port in use is a clear typed error before anything else
 * starts, and the host defaults to localhost rather than every interface.
 */
export async function startPrometheusEndpoint(producer: MetricProducer, config: PrometheusSettings): Promise<PrometheusEndpoint> {
  const reader = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [config.unitSuffixes ? prometheusNamingProducer(producer) : producer],
  });
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === config.path) {
      reader.getMetricsRequestHandler(req, res);
      return;
    }
    res.statusCode = 404;
    res.end(`metrics are at ${config.path}\n`);
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
    const endpoint = await startPrometheusEndpoint(engine.producer({ finalHoldMs: settings.prometheus.finalHoldMs }), settings.prometheus);
    return { reader: endpoint.reader, endpoint };
  },
} as const;
