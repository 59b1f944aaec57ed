/**
 * Delivery is acknowledged: a final reading counts as delivered to a reader only when what
 * carried it arrived. Prometheus: only GET collects (HEAD answers headers, other methods 405,
 * neither consumes anything), and a scrape whose client goes away mid-page leaves its final
 * readings for the next scrape. OTLP: finals carried by exports that failed (collector down,
 * 500, 429, hanging past the timeout) go out again, and reach a real OTLP/HTTP receiver
 * exactly once each after it recovers.
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, test } from 'node:test';
import { createOtlpExporter } from '../../src/export/otlp.ts';
import { prometheusExporter, startPrometheusEndpoint } from '../../src/export/prometheus.ts';
import { createPushReader } from '../../src/export/push-reader.ts';
import { CgroupMetrics } from '../../src/index.ts';
import { TEST_SETTINGS, V2_CGROUP } from '../helpers/export-settings.ts';
import { LOADED, V2, sleep } from '../metrics/helpers.ts';
import { OtlpReceiver, pointsWith, type ReceivedRequest } from '../helpers/otlp-receiver.ts';

const SETTINGS = TEST_SETTINGS;
const CGROUP = V2_CGROUP;

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function get(url: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { method, signal: AbortSignal.timeout(20_000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Whether a page has the user CPU series of task `id`. */
function hasTask(page: string, id: string): boolean {
  return new RegExp(`^container_cpu_time_seconds_total\\{[^}]*container_id="${id}"[^}]*\\} `, 'm').test(page);
}

test('Prometheus: HEAD answers 200 without a collection, other methods 405 with Allow; a final stopped before them is on the next GET', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const { endpoint, reader } = await prometheusExporter.start(cg, SETTINGS);
  const mp = new MeterProvider({ readers: [reader] });
  cleanups.push(async () => {
    await mp.shutdown();
    await endpoint.close();
  });
  cg.add({ id: 'a', cgroup: CGROUP });
  cg.add({ id: 'b', cgroup: CGROUP });
  const g1 = await get(endpoint.url);
  assert.ok(hasTask(g1.body, 'a') && hasTask(g1.body, 'b'));
  await cg.stop('a');

  const head = await get(endpoint.url, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(head.body, '');
  const refused: string[] = [];
  for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
    const r = await get(endpoint.url, method);
    assert.equal(r.status, 405, method);
    assert.equal(r.headers.get('allow'), 'GET, HEAD', method);
    refused.push(`${method} ${r.status}`);
  }
  const g2 = await get(endpoint.url);
  assert.equal(g2.status, 200);
  assert.ok(hasTask(g2.body, 'a'), "a's final reading is on the GET after HEAD/POST/PUT/DELETE/OPTIONS/PATCH");
  assert.match(g2.body, /^container_cpu_time_seconds_total\{[^}]*container_id="a"[^}]*cpu_mode="user"[^}]*\} 0\.840607$/m);
  const g3 = await get(endpoint.url);
  assert.ok(!hasTask(g3.body, 'a') && hasTask(g3.body, 'b'), 'delivered once: gone from the next page');
  console.log(`# HEAD 200 (no body), ${refused.join(', ')}; final of a on the next GET: yes, on the one after: no`);
});

test('Prometheus: a client that drops the connection after the first bytes leaves the final reading for the next complete scrape', async () => {
  const cg = new CgroupMetrics({ root: V2.loaded });
  const producer = cg.producer({ acknowledge: 'manual' });
  const endpoint = await startPrometheusEndpoint(producer, SETTINGS.prometheus);
  const mp = new MeterProvider({ readers: [endpoint.reader] });
  cleanups.push(async () => {
    await mp.shutdown();
    await endpoint.close();
  });
  // A page of ~20 MB: far more than the socket buffers hold, so the server is still writing
  // when the client goes away.
  for (let i = 0; i < 4000; i++) cg.add({ id: `t${i}`, cgroup: CGROUP });
  cg.add({ id: 'fin', cgroup: CGROUP });
  await cg.stop('fin');

  const url = new URL(endpoint.url);
  let firstBytes = 0;
  // A reader that takes a few bytes and stops reading (the socket in paused mode reads no more
  // than its 16 KiB buffer), then goes away while the server is still writing.
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(Number(url.port), url.hostname, () => s.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`));
    s.once('readable', () => {
      const chunk = s.read() as Buffer | null;
      firstBytes = chunk?.length ?? 0;
      assert.match(chunk?.toString('latin1') ?? '', /^HTTP\/1\.1 200/);
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 200);
    });
    s.once('error', reject);
  });
  await sleep(300);
  assert.equal(producer.pending, 1, 'the dropped scrape carried the final reading but did not acknowledge it');
  const full = await get(endpoint.url);
  assert.equal(full.status, 200);
  assert.ok(hasTask(full.body, 'fin'), 'the final reading is on the next complete scrape');
  await sleep(100);
  assert.equal(producer.pending, 0, 'the complete response acknowledged it');
  const next = await get(endpoint.url);
  assert.ok(!hasTask(next.body, 'fin'));
  console.log(
    `# dropped scrape: client read ${firstBytes} of ~${(full.body.length / 1e6).toFixed(1)} MB and went away; final on the next complete scrape: yes, after it: no`,
  );
});

type Outage = 'down' | 'error' | 'throttle' | 'hang';

test('OTLP: finals of tasks stopped while the collector is down, answers 500, 429 or hangs arrive exactly once after it recovers', async () => {
  let rx = await OtlpReceiver.start();
  const port = rx.port;
  const receivers: OtlpReceiver[] = [rx];
  const cg = new CgroupMetrics({ root: V2.loaded, groups: ['cpu'] });
  const INTERVAL = 300;
  const reader = createPushReader(cg, createOtlpExporter({ protocol: 'http/protobuf', endpoint: rx.url, timeoutMs: 250 }), INTERVAL, 250);
  const mp = new MeterProvider({ readers: [reader] });
  cleanups.push(async () => {
    await mp.shutdown().catch(() => {});
    for (const r of receivers) await r.close();
  });
  cg.add({ id: 'steady', cgroup: CGROUP });
  await rx.waitFor((r) => r.ok, 5_000, 'a first export');

  const outages: Outage[] = ['down', 'error', 'throttle', 'hang'];
  const ids: string[] = [];
  for (const outage of outages) {
    if (outage === 'down') await rx.close();
    else rx.mode = outage;
    const failedFrom = rx.requests.length;
    for (let i = 0; i < 3; i++) {
      const id = `${outage}-${i}`;
      ids.push(id);
      cg.add({ id, cgroup: CGROUP });
    }
    await sleep(INTERVAL * 2);
    for (let i = 0; i < 3; i++) await cg.stop(`${outage}-${i}`);
    // At least two failed exports carry the final readings.
    if (outage === 'down') await sleep(INTERVAL * 3);
    else
      await rx.waitFor(
        (r) => r.seq > failedFrom + 2 && r.answer !== 200 && carries(r, `${outage}-0`),
        10_000,
        `exports answered ${outage} carrying the finals`,
      );
    if (outage === 'down') {
      rx = await OtlpReceiver.start({ port });
      receivers.push(rx);
    } else rx.mode = 'ok';
    const from = rx.requests.length;
    await rx.waitFor((r) => r.seq > from + 3 && r.ok, 10_000, `three exports after recovery from ${outage}`);
  }

  const accepted = receivers.flatMap((r) => r.accepted);
  const failed = receivers.flatMap((r) => r.requests.filter((q) => !q.ok));
  const counts: string[] = [];
  for (const id of ids) {
    const carrying = accepted.filter((r) => carries(r, id));
    const tries = failed.filter((r) => carries(r, id)).length;
    counts.push(`${id}: ${carrying.length} (failed exports that carried it, live or final: ${tries})`);
    assert.equal(carrying.length, 1, `${id} reached the receiver ${carrying.length} times`);
    assert.equal(pointsWith((carrying[0] as ReceivedRequest).body, 'container.cpu.time', { 'container.id': id, 'cpu.mode': 'user' })[0]?.value, LOADED.cpuUser);
  }
  console.log(`# OTLP exactly-once at the receiver, per task stopped during an outage: ${counts.join('; ')}`);
  console.log(`# receiver answers: ${receivers.flatMap((r) => r.requests.map((q) => q.answer)).join(' ')}`);
});

function carries(r: ReceivedRequest, id: string): boolean {
  return pointsWith(r.body, 'container.cpu.time', { 'container.id': id }).length > 0;
}
