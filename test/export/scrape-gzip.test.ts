/**
 * The scrape path's encoding (issue 12, item 5): a GET whose Accept-Encoding admits gzip gets a
 * gzipped page that gunzips to the same series as a plain one, with `Vary: Accept-Encoding` and
 * the exposition format's versioned content type; a page too small to gain stays plain; HEAD and
 * 405 are as before; a client that drops the connection mid-gzip-stream leaves its final
 * reading pending for the next scrape; and a real Prometheus, which always asks for gzip, gets
 * gzipped pages (seen on the wire through a recording proxy) and stores the series, a final
 * reading included.
 */
import { MeterProvider, type MetricProducer } from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { after, describe, test } from 'node:test';
import * as zlib from 'node:zlib';
import { acceptsGzip, GZIP_LEVEL, GZIP_MIN_BYTES, PROMETHEUS_CONTENT_TYPE, startPrometheusEndpoint } from '../../src/export/prometheus.ts';
import { CgroupMetrics } from '../../src/index.ts';
import { TEST_SETTINGS, V2_CGROUP } from '../helpers/export-settings.ts';
import { startPrometheus, sampleValue, type PrometheusPeer } from '../helpers/peers.ts';
import { LOADED, V2, sleep } from '../metrics/helpers.ts';

const SETTINGS = TEST_SETTINGS;
const CGROUP = V2_CGROUP;

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body as it came over the wire (not decoded, unlike fetch()). */
  body: Buffer;
}

/** One request with node:http, which leaves Content-Encoding to the caller. */
function raw(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 20_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The page's text: gunzipped when the response says gzip. */
function text(r: RawResponse): string {
  return (r.headers['content-encoding'] === 'gzip' ? zlib.gunzipSync(r.body) : r.body).toString('utf8');
}

/** Sample lines keyed by series (name and labels), with their value text. */
function series(page: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of page.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    assert.ok(at > 0, `unparsable sample line: ${line}`);
    const key = line.slice(0, at);
    assert.ok(!out.has(key), `duplicate series ${key}`);
    out.set(key, line.slice(at + 1));
  }
  return out;
}

/** Whether a page has the user CPU series of task `id`. */
function hasTask(page: string, id: string): boolean {
  return new RegExp(`^container_cpu_time_seconds_total\\{[^}]*container_id="${id}"[^}]*cpu_mode="user"[^}]*\\} `, 'm').test(page);
}

/** An in-process endpoint of the agent's kind (manual acknowledgement) over the v2 fixture. */
async function endpointWith(opts: ConstructorParameters<typeof CgroupMetrics>[0] = {}) {
  const cg = new CgroupMetrics({ root: V2.loaded, ...opts });
  const producer = cg.producer({ acknowledge: 'manual' });
  const endpoint = await startPrometheusEndpoint(producer, SETTINGS.prometheus);
  const mp = new MeterProvider({ readers: [endpoint.reader] });
  cleanups.push(async () => {
    await mp.shutdown();
    await endpoint.close();
  });
  return { cg, producer, endpoint };
}

describe('Accept-Encoding', () => {
  test('which headers admit gzip', () => {
    const cases: Array<[string | undefined, boolean]> = [
      [undefined, false],
      ['', false],
      ['gzip', true],
      ['GZip', true],
      ['x-gzip', true],
      ['deflate, gzip;q=0.5', true],
      ['gzip ; q=1.0, identity', true],
      ['gzip;q=0', false],
      ['gzip;q=0.000', false],
      ['br', false],
      ['identity', false],
      ['*', true],
      ['*;q=0', false],
      ['gzip;q=0, *', false],
      ['br, *;q=0.1', true],
    ];
    for (const [header, want] of cases) assert.equal(acceptsGzip(header), want, JSON.stringify(header));
    assert.equal(acceptsGzip(['br', 'gzip']), true, 'a header sent twice');
  });
});

describe('the gzipped page', () => {
  test('a scrape with Accept-Encoding: gzip gives a gzipped page that gunzips to the same series as a plain one; its final readings count as delivered', async () => {
    const { cg, producer, endpoint } = await endpointWith({ groups: ['cpu', 'memory', 'pids', 'pressure'] });
    for (let i = 0; i < 50; i++) cg.add({ id: `t${i}`, cgroup: CGROUP, attributes: { 'k8s.pod.name': `pod-${i}` } });

    const plain = await raw(endpoint.url);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: a plain page');
    assert.equal(plain.headers['content-type'], PROMETHEUS_CONTENT_TYPE);
    assert.equal(plain.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(plain.headers.vary, 'Accept-Encoding');
    assert.equal(Number(plain.headers['content-length']), plain.body.length);

    await cg.stop('t7');
    assert.equal(producer.pending, 1);
    const zipped = await raw(endpoint.url, { 'accept-encoding': 'gzip' });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(zipped.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(zipped.headers.vary, 'Accept-Encoding');
    assert.equal(Number(zipped.headers['content-length']), zipped.body.length);
    assert.deepEqual([...zipped.body.subarray(0, 2)], [0x1f, 0x8b], 'the gzip magic');
    const page = text(zipped);
    assert.ok(zipped.body.length * 5 < Buffer.byteLength(page), `gzip ${zipped.body.length} of ${Buffer.byteLength(page)} bytes`);

    // The same series, and the same values for everything but the self metrics (whose values
    // describe each collection): the fixture's files do not change between the two scrapes.
    const a = series(text(plain));
    const b = series(page);
    assert.deepEqual([...b.keys()].sort(), [...a.keys()].sort());
    const containers = [...a.keys()].filter((k) => k.startsWith('container_'));
    assert.ok(containers.length >= 50 * 8, `${containers.length} container series`);
    for (const k of containers) assert.equal(b.get(k), a.get(k), k);
    assert.match(page, /^container_cpu_time_seconds_total\{[^}]*container_id="t7"[^}]*cpu_mode="user"[^}]*\} 0\.840607$/m);
    assert.equal(LOADED.cpuUser, 0.840607);

    // The gzipped response carried t7's final reading and was sent whole: acknowledged.
    await sleep(100);
    assert.equal(producer.pending, 0, 'the whole gzipped page acknowledged the final reading');
    const next = text(await raw(endpoint.url, { 'accept-encoding': 'gzip' }));
    assert.ok(!hasTask(next, 't7') && hasTask(next, 't8'), 'delivered once: gone from the next page');
    console.log(
      `# 50 tasks: plain ${plain.body.length} bytes, gzip level ${GZIP_LEVEL} ${zipped.body.length} bytes (${(plain.body.length / zipped.body.length).toFixed(1)} ×); ${a.size} series identical after gunzip`,
    );
  });

  test("fetch() (undici: 'gzip, deflate, br') gets gzip too, and decodes it", async () => {
    const { cg, endpoint } = await endpointWith({ groups: ['cpu'] });
    cg.add({ id: 'a', cgroup: CGROUP });
    const res = await fetch(endpoint.url, { signal: AbortSignal.timeout(20_000) });
    assert.equal(res.headers.get('content-encoding'), 'gzip');
    assert.ok(hasTask(await res.text(), 'a'));
  });

  test('a page under GZIP_MIN_BYTES stays plain even when gzip is asked for', async () => {
    // A producer with nothing to say: the page is the resource's target_info at most.
    const empty: MetricProducer = {
      collect: async () => ({ resourceMetrics: { resource: emptyResource(), scopeMetrics: [] }, errors: [] }),
    };
    const endpoint = await startPrometheusEndpoint(empty, SETTINGS.prometheus);
    const mp = new MeterProvider({ readers: [endpoint.reader] });
    cleanups.push(async () => {
      await mp.shutdown();
      await endpoint.close();
    });
    const r = await raw(endpoint.url, { 'accept-encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.ok(r.body.length < GZIP_MIN_BYTES, `a ${r.body.length}-byte page`);
    assert.equal(r.headers['content-encoding'], undefined);
    assert.equal(r.headers['content-type'], PROMETHEUS_CONTENT_TYPE);
    assert.equal(r.headers.vary, 'Accept-Encoding', 'the choice still depends on the header');
  });

  test('gzip;q=0, br and identity get the plain page', async () => {
    const { cg, endpoint } = await endpointWith({ groups: ['cpu'] });
    for (let i = 0; i < 20; i++) cg.add({ id: `t${i}`, cgroup: CGROUP });
    for (const ae of ['gzip;q=0', 'br', 'identity']) {
      const r = await raw(endpoint.url, { 'accept-encoding': ae });
      assert.equal(r.headers['content-encoding'], undefined, ae);
      assert.ok(hasTask(r.body.toString('utf8'), 't19'), ae);
    }
    const star = await raw(endpoint.url, { 'accept-encoding': '*' });
    assert.equal(star.headers['content-encoding'], 'gzip');
    assert.ok(hasTask(text(star), 't19'));
  });
});

describe('HEAD, 405 and a dropped gzip stream', () => {
  test('HEAD answers the versioned content type and Vary, no body and no collection; other methods 405 with Allow, as before', async () => {
    const { cg, producer, endpoint } = await endpointWith({ groups: ['cpu'] });
    cg.add({ id: 'a', cgroup: CGROUP });
    await raw(endpoint.url, { 'accept-encoding': 'gzip' });
    await cg.stop('a');
    assert.equal(producer.pending, 1);

    const head = await raw(endpoint.url, { 'accept-encoding': 'gzip' }, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(head.headers.vary, 'Accept-Encoding');
    assert.equal(head.headers['content-encoding'], undefined);
    assert.equal(head.body.length, 0);
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
      const r = await raw(endpoint.url, { 'accept-encoding': 'gzip' }, method);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD', method);
      assert.equal(r.headers['content-type'], 'text/plain', method);
      assert.equal(r.headers['content-encoding'], undefined, method);
      assert.equal(r.body.toString(), `${method} not allowed: metrics are read with GET\n`);
    }
    await sleep(50);
    assert.equal(producer.pending, 1, 'neither HEAD nor a 405 consumed the final reading');
    const get = await raw(endpoint.url, { 'accept-encoding': 'gzip' });
    assert.ok(hasTask(text(get), 'a'));
    await sleep(100);
    assert.equal(producer.pending, 0);
  });

  test('a client that drops the connection mid-gzip-stream loses no final reading: it is on the next scrape', async () => {
    const { cg, producer, endpoint } = await endpointWith({ groups: ['cpu'] });
    // The page's series are grouped by metric, so a task's random label recurs far beyond
    // deflate's 32 KiB window and compresses little: the gzipped page is several times what
    // loopback's socket buffers hold (~4 MB here), and the server is still writing when the
    // client goes away.
    for (let i = 0; i < 2000; i++) cg.add({ id: `t${i}`, cgroup: CGROUP, attributes: { blob: randomBytes(1024).toString('base64') } });
    cg.add({ id: 'fin', cgroup: CGROUP });
    await cg.stop('fin');

    const url = new URL(endpoint.url);
    let head = '';
    let firstBytes = 0;
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(Number(url.port), url.hostname, () =>
        s.write(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAccept-Encoding: gzip\r\n\r\n`),
      );
      // Takes one chunk, stops reading (paused mode reads no more than its buffer), then goes
      // away while the server is still writing the gzip stream.
      s.once('readable', () => {
        const chunk = s.read() as Buffer | null;
        firstBytes = chunk?.length ?? 0;
        head = chunk?.toString('latin1').split('\r\n\r\n')[0] ?? '';
        setTimeout(() => {
          s.destroy();
          resolve();
        }, 200);
      });
      s.once('error', reject);
    });
    assert.match(head, /^HTTP\/1\.1 200/);
    assert.match(head, /\r\ncontent-encoding: gzip\r\n/i, 'the dropped response was a gzip stream');
    const length = Number(head.match(/\r\ncontent-length: (\d+)/i)?.[1]);
    assert.ok(length > 8e6, `the gzipped page is ${length} bytes: more than the socket buffers hold`);
    await sleep(300);
    assert.equal(producer.pending, 1, 'the dropped gzip stream carried the final reading but did not acknowledge it');

    const full = await raw(endpoint.url, { 'accept-encoding': 'gzip' });
    assert.equal(full.headers['content-encoding'], 'gzip');
    const page = text(full);
    assert.ok(hasTask(page, 'fin'), 'the final reading is on the next complete scrape');
    await sleep(100);
    assert.equal(producer.pending, 0, 'the complete gzipped response acknowledged it');
    assert.ok(!hasTask(text(await raw(endpoint.url, { 'accept-encoding': 'gzip' })), 'fin'));
    console.log(
      `# dropped gzip stream: client read ${firstBytes} of ${length} gzipped bytes (page ${(Buffer.byteLength(page) / 1e6).toFixed(1)} MB) and went away; final on the next complete scrape: yes, after it: no`,
    );
  });
});

describe('a real Prometheus asks for gzip and stores what it gets', () => {
  let prom: PrometheusPeer | undefined;
  let proxy: net.Server | undefined;
  const sockets = new Set<net.Socket>();
  after(async () => {
    await prom?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
  });

  test('through a recording proxy: Accept-Encoding: gzip asked, Content-Encoding: gzip answered, the series and a final reading stored', async () => {
    const { cg, producer, endpoint } = await endpointWith({ groups: ['cpu', 'memory', 'pids'] });
    cg.add({ id: 'a', cgroup: CGROUP });
    cg.add({ id: 'b', cgroup: CGROUP });
    await cg.stop('b');
    // A TCP relay that keeps the head of each request and each response it passes on.
    const target = new URL(endpoint.url);
    const requests: string[] = [];
    const responses: string[] = [];
    proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => {});
      }
      client.on('data', (c: Buffer) => {
        const t = c.toString('latin1');
        if (/^[A-Z]+ \//.test(t)) requests.push(t.split('\r\n\r\n')[0] ?? '');
      });
      upstream.on('data', (c: Buffer) => {
        const t = c.toString('latin1');
        if (t.startsWith('HTTP/1.1 ')) responses.push(t.split('\r\n\r\n')[0] ?? '');
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => proxy?.listen(0, '127.0.0.1', resolve));
    const proxyPort = (proxy.address() as net.AddressInfo).port;
    prom = await startPrometheus({ scrapeTargets: [`127.0.0.1:${proxyPort}`] });
    const inst = `127.0.0.1:${proxyPort}`;
    const one = async (promql: string): Promise<number> => {
      const v = await (prom as PrometheusPeer).waitForSeries(promql, (r) => r.length === 1, 30_000);
      return sampleValue(v[0] as (typeof v)[number]);
    };
    assert.equal(await one(`container_cpu_time_seconds_total{container_id="a",cpu_mode="user",instance="${inst}"}`), LOADED.cpuUser);
    assert.equal(await one(`container_cpu_time_seconds_total{container_id="b",cpu_mode="system",instance="${inst}"}`), LOADED.cpuSystem);
    assert.equal(producer.pending, 0, "b's final reading, sent gzipped, was acknowledged");
    assert.ok(requests.length >= 1 && responses.length >= 1, `${requests.length} requests, ${responses.length} responses relayed`);
    for (const r of requests) assert.match(r, /\r\nAccept-Encoding: gzip\r\n/i, `Prometheus asked:\n${r}`);
    for (const r of responses) {
      assert.match(r, /^HTTP\/1\.1 200 /);
      assert.match(r, /\r\ncontent-encoding: gzip\r\n/i, `the agent answered:\n${r}`);
      assert.match(r, /\r\ncontent-type: text\/plain; version=0\.0\.4; charset=utf-8\r\n/i);
    }
    const targets = await prom.targets();
    assert.equal(targets.length, 1);
    assert.equal(targets[0]?.health, 'up', targets[0]?.lastError);
    console.log(`# Prometheus: ${requests.length} scrapes relayed, all with Accept-Encoding: gzip, all answered gzipped; a and b's final reading stored`);
  });
});
