/**
 * Smoke test of the real peers installed by scripts/install-peers.sh: promtool lints an
 * exposition page, Prometheus scrapes a tiny HTTP server, VictoriaMetrics takes an import.
 * A missing peer fails here with "run scripts/install-peers.sh", never a skip.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  peerBin,
  peerProtoDir,
  promtoolCheckMetrics,
  sampleValue,
  startPrometheus,
  startVictoriaMetrics,
  type PrometheusPeer,
  type VictoriaMetricsPeer,
} from './helpers/peers.ts';

describe('installed peers', () => {
  it('has every binary and the OTLP .proto files under .peers/', () => {
    for (const name of ['prometheus', 'promtool', 'victoria-metrics', 'vmagent']) {
      assert.ok(peerBin(name).endsWith(`/bin/${name}`));
    }
    assert.ok(peerProtoDir().endsWith('/proto'));
  });

  it('peerBin names the install script when a binary is missing', () => {
    assert.throws(() => peerBin('no-such-peer'), /no-such-peer.*scripts\/install-peers\.sh/);
  });
});

describe('promtool check metrics', () => {
  before(() => {
    peerBin('promtool');
  });

  it('accepts a valid exposition page (exit 0)', async () => {
    const page = [
      '# HELP smoke_requests_total Requests served.',
      '# TYPE smoke_requests_total counter',
      'smoke_requests_total{path="/"} 3',
      '# HELP smoke_temperature_celsius A temperature.',
      '# TYPE smoke_temperature_celsius gauge',
      'smoke_temperature_celsius 21.5',
      '',
    ].join('\n');
    const r = await promtoolCheckMetrics(page);
    assert.equal(r.code, 0, `promtool output:\n${r.output}`);
  });

  it('flags a counter without _total as a lint problem (exit 3)', async () => {
    const page = ['# HELP smoke_requests Requests served.', '# TYPE smoke_requests counter', 'smoke_requests 3', ''].join('\n');
    const r = await promtoolCheckMetrics(page);
    assert.equal(r.code, 3, `promtool output:\n${r.output}`);
    assert.match(r.output, /_total/);
  });

  it('reports a parse error (exit 1)', async () => {
    const r = await promtoolCheckMetrics('smoke_broken{ 1\n');
    assert.equal(r.code, 1, `promtool output:\n${r.output}`);
  });
});

describe('Prometheus', () => {
  let server: Server | undefined;
  let prom: PrometheusPeer | undefined;

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end('# HELP smoke_peer_value A fixed value.\n# TYPE smoke_peer_value gauge\nsmoke_peer_value{source="test"} 42\n');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${port}`], scrapeIntervalS: 1 });
  });

  after(async () => {
    await prom?.stop();
    await prom?.stop(); // safe twice
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  it('scrapes a local server and answers the query API', async () => {
    assert.ok(prom);
    const v = await prom.waitForSeries('smoke_peer_value', (r) => r.length > 0, 30_000);
    assert.equal(v.length, 1);
    const s = v[0];
    assert.ok(s);
    assert.equal(sampleValue(s), 42);
    assert.equal(s.metric.source, 'test');
    assert.equal(s.metric.job, 'test');
    const up = await prom.query('up{job="test"}');
    assert.equal(up.length, 1);
    assert.equal(up[0] && sampleValue(up[0]), 1);
  });

  it('rejects a bad query with a clear error', async () => {
    assert.ok(prom);
    await assert.rejects(prom.query('sum('), /bad_data|parse error/);
  });
});

describe('VictoriaMetrics', () => {
  let vm: VictoriaMetricsPeer | undefined;

  before(async () => {
    vm = await startVictoriaMetrics();
  });

  after(async () => {
    await vm?.stop();
    await vm?.stop(); // safe twice
  });

  it('takes a Prometheus import and answers the query API', async () => {
    assert.ok(vm);
    assert.match(vm.otlpUrl, /^http:\/\/127\.0\.0\.1:\d+\/opentelemetry\/v1\/metrics$/);
    await vm.importPrometheus('smoke_vm_value{source="test"} 7\n');
    const v = await vm.waitFor('smoke_vm_value{source="test"}', (r) => r.length > 0, 20_000);
    assert.equal(v.length, 1);
    const s = v[0];
    assert.ok(s);
    assert.equal(sampleValue(s), 7);
    assert.equal(s.metric.__name__, 'smoke_vm_value');
  });
});
