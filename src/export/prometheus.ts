import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import { CgroupMetricsError } from '../errors.ts';
import type { ExportConfig } from './config.ts';
import { prometheusNamingProducer } from './prometheus-naming.ts';

/** The Prometheus endpoint could not start (port in use, address not available, permission). */
export class EndpointStartError extends CgroupMetricsError {
  constructor(host: string, port: number, cause: NodeJS.ErrnoException) {
    const why = cause.code === 'EADDRINUSE' ? 'the port is in use; choose another with --prometheus-port or OTEL_EXPORTER_PROMETHEUS_PORT' : cause.message;
    super('ENDPOINT_START', `cannot serve Prometheus metrics on ${host}:${port}: ${why}`, { cause });
  }
}

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
export async function startPrometheusEndpoint(producer: MetricProducer, config: ExportConfig['prometheus']): Promise<PrometheusEndpoint> {
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
