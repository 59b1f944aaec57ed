/**
 * The Docker Engine API source against a real dockerd (docker.io 20.10, a private instance with
 * busybox imported as `local/busybox`; the podman source, on podman's own libpod API, is tested
 * against a real podman in names-podman.test.ts). Then the unix-socket
 * client's failures against small servers of our own: a missing socket, a socket that accepts
 * and never answers (timed against the deadline), 500, garbage, non-JSON, an answer over the
 * size bound; and connection reuse.
 *
 * Needs root and docker.io (`bash scripts/install-peers.sh`); a missing dockerd fails loudly.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dockerSource } from '../../src/discovery/metadata/docker.ts';
import { podmanSource } from '../../src/discovery/metadata/podman.ts';
import { type LookupTask, MetadataLookupError, type MetadataSource } from '../../src/discovery/metadata/source.ts';
import { createUnixJsonClient, MAX_RESPONSE_BYTES } from '../../src/discovery/metadata/unix-http.ts';
import { type Dockerd, randomSuffix, startDockerd } from '../helpers/runtimes.ts';

const DEADLINE_MS = 2_000;
const UNKNOWN_ID = 'f'.repeat(64);

function task(id: string, layout: 'docker' | 'podman' = 'docker'): LookupTask {
  return { layout, namespace: layout, id };
}

function deadline(ms = DEADLINE_MS): AbortSignal {
  return AbortSignal.timeout(ms);
}

/** Asserts that `p` rejects with a MetadataLookupError of `type` from `source`. */
async function rejectsWith(p: Promise<unknown>, source: string, type: MetadataLookupError['type']): Promise<MetadataLookupError> {
  const err = await p.then(
    (v) => assert.fail(`resolved ${JSON.stringify(v)}, expected a ${type} error`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof MetadataLookupError, `not a MetadataLookupError: ${String(err)}`);
  assert.equal(err.type, type, err.message);
  assert.equal(err.source, source);
  return err;
}

describe('the docker source with a real dockerd', { timeout: 240_000 }, () => {
  let dockerd: Dockerd;
  let docker: MetadataSource;
  const suffix = randomSuffix();
  const web = `ocm-web-${suffix}`;
  let webId: string;
  let webStartedAt: string;

  /** What the sources say of the `web` container, run from `local/busybox:1.36`. */
  const webAttributes = (runtime: string): Record<string, unknown> => ({
    'container.name': web,
    'container.image.name': 'local/busybox',
    'container.image.tags': ['1.36'],
    'container.runtime.name': runtime,
  });

  before(async () => {
    dockerd = await startDockerd();
    await dockerd.dockerOk(['tag', 'local/busybox', 'local/busybox:1.36']);
    webId = (await dockerd.dockerOk(['run', '-d', '--name', web, '--label', 'team=checkout', 'local/busybox:1.36', 'sleep', '30'])).trim();
    webStartedAt = (await dockerd.dockerOk(['inspect', '--format', '{{.State.StartedAt}}', webId])).trim();
    docker = dockerSource.create(dockerd.socket);
  });

  after(async () => {
    docker?.close();
    await dockerd?.stop();
  });

  test('the definitions: names, layouts, default sockets', () => {
    assert.equal(dockerSource.name, 'docker');
    assert.deepEqual(dockerSource.layouts, ['docker']);
    assert.equal(dockerSource.defaultEndpoint, '/var/run/docker.sock');
    assert.equal(docker.name, 'docker');
  });

  test('a running container: its name without the slash, image name and tag, labels, start time', async () => {
    const md = await docker.lookup(task(webId), deadline());
    assert.ok(md);
    assert.deepEqual(md.attributes, webAttributes('docker'));
    assert.equal(md.labels.team, 'checkout');
    assert.equal(md.sandbox, false);
    assert.equal(md.startTimeMs, Date.parse(webStartedAt));
    assert.ok(md.startTimeMs !== undefined && Math.abs(Date.now() - md.startTimeMs) < 5_000, `started at ${webStartedAt}, now ${new Date().toISOString()}`);
  });

  test('an id the daemon does not know resolves undefined', async () => {
    assert.equal(await docker.lookup(task(UNKNOWN_ID), deadline()), undefined);
  });

  test('an image without a tag carries no tag; a created, never started container has no start time', async () => {
    const name = `ocm-created-${suffix}`;
    const id = (await dockerd.dockerOk(['create', '--name', name, 'local/busybox', 'sleep', '30'])).trim();
    const md = await docker.lookup(task(id), deadline());
    assert.ok(md);
    assert.deepEqual(md.attributes, { 'container.name': name, 'container.image.name': 'local/busybox', 'container.runtime.name': 'docker' });
    assert.equal(md.startTimeMs, undefined);
    assert.deepEqual(md.labels, {});
  });

  test("dockershim's labels: the pod's names, and its pause container is a sandbox", async () => {
    const uid = `0f1e2d3c-${suffix}`;
    const pod = ['--label', 'io.kubernetes.pod.name=checkout-7d9', '--label', 'io.kubernetes.pod.namespace=shop', '--label', `io.kubernetes.pod.uid=${uid}`];
    /** Runs a container of the pod as dockershim would, with its own labels besides the pod's. */
    const runInPod = async (name: string, labels: string[]): Promise<string> =>
      (await dockerd.dockerOk(['run', '-d', '--name', name, ...pod, ...labels.flatMap((l) => ['--label', l]), 'local/busybox:1.36', 'sleep', '30'])).trim();
    const pauseId = await runInPod(`k8s_POD_checkout-${suffix}`, ['io.kubernetes.docker.type=podsandbox']);
    const appId = await runInPod(`k8s_app_checkout-${suffix}`, ['io.kubernetes.docker.type=container', 'io.kubernetes.container.name=app']);
    const pause = await docker.lookup(task(pauseId), deadline());
    const app = await docker.lookup(task(appId), deadline());
    assert.ok(pause && app);
    assert.equal(pause.sandbox, true);
    assert.equal(app.sandbox, false);
    assert.deepEqual(app.attributes, {
      'container.name': `k8s_app_checkout-${suffix}`,
      'container.image.name': 'local/busybox',
      'container.image.tags': ['1.36'],
      'container.runtime.name': 'docker',
      'k8s.pod.name': 'checkout-7d9',
      'k8s.namespace.name': 'shop',
      'k8s.pod.uid': uid,
      'k8s.container.name': 'app',
    });
    assert.equal(pause.attributes['k8s.pod.uid'], uid);
    assert.equal(pause.attributes['k8s.container.name'], undefined);
  });

  test('after close, lookups reject as unavailable', async () => {
    const s = dockerSource.create(dockerd.socket);
    assert.ok(await s.lookup(task(webId), deadline()));
    s.close();
    await rejectsWith(s.lookup(task(webId), deadline()), 'docker', 'unavailable');
  });
});

describe('unix-socket failures, against servers of our own', () => {
  let dir: string;
  const servers: Array<net.Server> = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'ocm-unix-http-'));
  });

  after(async () => {
    for (const s of servers) {
      s.close();
      // A server that never answers still holds its connections: end them so that close completes.
      if (s instanceof http.Server) s.closeAllConnections();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A unix socket in the test's directory served by `server`. */
  async function listen<S extends net.Server>(server: S): Promise<{ socket: string; server: S }> {
    const socket = path.join(dir, `s-${randomSuffix()}.sock`);
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socket, () => resolve());
    });
    return { socket, server };
  }

  /** An HTTP server answering every request with `status` and `body`. */
  function answering(status: number, body: string | Buffer, headers: http.OutgoingHttpHeaders = {}): Promise<{ socket: string; server: http.Server }> {
    return listen(
      http.createServer((_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(body);
      }),
    );
  }

  test('a socket path that does not exist → unavailable', async () => {
    const s = dockerSource.create(path.join(dir, 'missing.sock'));
    await rejectsWith(s.lookup(task(UNKNOWN_ID), deadline()), 'docker', 'unavailable');
    s.close();
  });

  test('a path that is no listening socket (a plain file) → unavailable', async () => {
    const file = path.join(dir, 'plain-file.sock');
    fs.writeFileSync(file, '');
    const s = podmanSource.create(file);
    await rejectsWith(s.lookup(task(UNKNOWN_ID, 'podman'), deadline()), 'podman', 'unavailable');
    s.close();
  });

  test('a socket that accepts and never answers → timeout, by the deadline', async () => {
    const { socket } = await listen(net.createServer(() => undefined));
    const s = dockerSource.create(socket);
    const ms = 300;
    const t0 = performance.now();
    await rejectsWith(s.lookup(task(UNKNOWN_ID), deadline(ms)), 'docker', 'timeout');
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= ms - 20 && elapsed <= ms + 200, `rejected after ${elapsed.toFixed(0)} ms for a ${ms} ms deadline`);
    s.close();
  });

  test('an already passed deadline → timeout at once', async () => {
    const { socket } = await answering(200, '{}');
    const s = dockerSource.create(socket);
    await rejectsWith(s.lookup(task(UNKNOWN_ID), AbortSignal.abort()), 'docker', 'timeout');
    s.close();
  });

  test('500 → protocol, with the answer in the message', async () => {
    const { socket } = await answering(500, '{"message":"daemon on fire"}');
    const s = dockerSource.create(socket);
    const err = await rejectsWith(s.lookup(task(UNKNOWN_ID), deadline()), 'docker', 'protocol');
    assert.match(err.message, /500.*daemon on fire/);
    s.close();
  });

  test('bytes that are not HTTP → protocol', async () => {
    const { socket } = await listen(
      net.createServer((conn) => {
        conn.on('error', () => undefined);
        conn.end('garbage, not HTTP\r\n\r\n');
      }),
    );
    const s = dockerSource.create(socket);
    await rejectsWith(s.lookup(task(UNKNOWN_ID), deadline()), 'docker', 'protocol');
    s.close();
  });

  test('200 without JSON, or JSON that is no object → protocol', async () => {
    const html = await answering(200, '<html>hello</html>', { 'content-type': 'text/html' });
    const s1 = dockerSource.create(html.socket);
    await rejectsWith(s1.lookup(task(UNKNOWN_ID), deadline()), 'docker', 'protocol');
    s1.close();
    const array = await answering(200, '[1,2,3]');
    const s2 = dockerSource.create(array.socket);
    await rejectsWith(s2.lookup(task(UNKNOWN_ID), deadline()), 'docker', 'protocol');
    s2.close();
  });

  test('an answer over the size bound → protocol, declared or streamed', async () => {
    const big = Buffer.alloc(MAX_RESPONSE_BYTES + 1, 0x20);
    const declared = await answering(200, big);
    const s1 = dockerSource.create(declared.socket);
    await rejectsWith(s1.lookup(task(UNKNOWN_ID), deadline()), 'docker', 'protocol');
    s1.close();
    // Chunked, with no content-length: the bound applies while reading, and the server's stream is cut.
    let written = 0;
    const streamed = await listen(
      http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        const pump = (): void => {
          while (written < 16 * MAX_RESPONSE_BYTES && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('error', () => undefined);
        pump();
      }),
    );
    const client = createUnixJsonClient('test', streamed.socket);
    const err = await rejectsWith(client.get('/big', deadline()), 'test', 'protocol');
    assert.match(err.message, /over the 1048576-byte bound/);
    assert.ok(written < 16 * MAX_RESPONSE_BYTES, `the server wrote all ${written} bytes: the client did not stop reading`);
    client.close();
    // The bound is configurable.
    const small = await answering(200, '{"a":"0123456789"}');
    const tight = createUnixJsonClient('test', small.socket, { maxResponseBytes: 8 });
    await rejectsWith(tight.get('/x', deadline()), 'test', 'protocol');
    tight.close();
  });

  test('lookups reuse one kept-alive connection, 404s included', async () => {
    let connections = 0;
    const { socket, server } = await answering(404, '{"message":"No such container"}');
    server.on('connection', () => connections++);
    const s = dockerSource.create(socket);
    for (let i = 0; i < 5; i++) assert.equal(await s.lookup(task(UNKNOWN_ID), deadline()), undefined);
    assert.equal(connections, 1);
    s.close();
  });
});
