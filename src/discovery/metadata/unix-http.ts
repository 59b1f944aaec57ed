/**
 * A JSON GET over a unix socket, for the runtimes' HTTP APIs (Docker Engine, podman's
 * libpod API). Every failure is a typed MetadataLookupError, so that the caller counts
 * it by type and never has to tell socket errors apart itself.
 */
import * as http from 'node:http';
import { MetadataLookupError } from './source.ts';

/** A runtime's answer is a few KiB; anything past this is not an answer we want in memory. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** How much of an unreadable answer goes into the error message. */
const SNIPPET_CHARS = 200;

/** Socket errors meaning nobody (or nobody we may talk to) serves the socket, or it went away. */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set(['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ENOTSOCK', 'EAGAIN', 'ECONNRESET', 'EPIPE']);

export interface UnixJsonClientOptions {
  /** Answers larger than this are dropped mid-read as `protocol` errors (default MAX_RESPONSE_BYTES). */
  readonly maxResponseBytes?: number;
  /** Connections kept open to the socket at most; further requests queue (default 4). */
  readonly maxSockets?: number;
}

export interface UnixJsonClient {
  /**
   * GET `path` and parse the JSON answer; resolves undefined on 404. Rejects only with
   * MetadataLookupError: `unavailable` (socket missing, refusing, forbidden, closed, or this
   * client closed), `timeout` (no full answer when `signal` aborts), `protocol` (not HTTP,
   * not JSON, any other non-2xx status, or over the size bound).
   */
  get(path: string, signal: AbortSignal): Promise<unknown>;
  /** Closes the kept-alive connections; later requests reject as `unavailable`. */
  close(): void;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}…` : flat;
}

/** A client for one socket, named `source` in its errors; one keep-alive agent, so lookups reuse a connection. */
export function createUnixJsonClient(source: string, socketPath: string, options: UnixJsonClientOptions = {}): UnixJsonClient {
  const maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 4 });
  let closed = false;
  const failure = (type: 'unavailable' | 'timeout' | 'protocol', message: string): MetadataLookupError => new MetadataLookupError(source, type, message);

  const classify = (path: string, err: unknown): MetadataLookupError => {
    const code = errorCode(err) ?? '';
    const message = err instanceof Error ? err.message : String(err);
    if (UNAVAILABLE_CODES.has(code)) return failure('unavailable', `GET ${path} on ${socketPath}: ${message}`);
    return failure('protocol', `GET ${path} on ${socketPath}: ${message}`);
  };

  const get = (path: string, signal: AbortSignal): Promise<unknown> => {
    if (closed) return Promise.reject(failure('unavailable', `GET ${path}: the client is closed`));
    if (signal.aborted) return Promise.reject(failure('timeout', `GET ${path}: the deadline passed before the request`));
    return new Promise<unknown>((resolve, reject) => {
      let settled = false;
      const settle = (action: () => void): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        action();
      };
      // Abandoning a request mid-way destroys its connection: a half-read answer cannot be reused.
      const abandon = (err: MetadataLookupError): void =>
        settle(() => {
          req.destroy();
          reject(err);
        });
      const onAbort = (): void => abandon(failure('timeout', `GET ${path} on ${socketPath}: no answer by the deadline`));
      signal.addEventListener('abort', onAbort, { once: true });

      const req = http.request({ agent, socketPath, path, method: 'GET', headers: { accept: 'application/json' } }, (res) => {
        const status = res.statusCode ?? 0;
        const declared = Number(res.headers['content-length']);
        if (declared > maxBytes) {
          abandon(failure('protocol', `GET ${path}: an answer of ${declared} bytes is over the ${maxBytes}-byte bound`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) abandon(failure('protocol', `GET ${path}: the answer is over the ${maxBytes}-byte bound`));
          else if (status !== 404) chunks.push(chunk);
        });
        res.on('error', (err) => abandon(classify(path, err)));
        // A connection that closes mid-answer (the daemon died) ends no answer: no need to wait for the deadline.
        res.on('close', () => {
          if (!res.complete) abandon(failure('unavailable', `GET ${path} on ${socketPath}: the connection closed mid-answer`));
        });
        // The body is read to its end even when unwanted, so that the connection goes back to the agent.
        res.on('end', () =>
          settle(() => {
            if (status === 404) return resolve(undefined);
            const text = Buffer.concat(chunks).toString('utf8');
            if (status < 200 || status >= 300) return reject(failure('protocol', `GET ${path} answered ${status}: ${snippet(text)}`));
            try {
              resolve(JSON.parse(text));
            } catch {
              reject(failure('protocol', `GET ${path} answered ${status} with no JSON: ${snippet(text)}`));
            }
          }),
        );
      });
      req.on('error', (err) => abandon(classify(path, err)));
      req.end();
    });
  };

  return {
    get,
    close() {
      closed = true;
      agent.destroy();
    },
  };
}
