/**
 * Unary gRPC calls over a unix socket, for the runtimes' gRPC APIs (containerd's, the CRI). The
 * services come from the trimmed .proto copies the package ships in `proto/`; every failure is a
 * typed MetadataLookupError, so that the caller counts it by type and never has to tell gRPC
 * status codes apart itself.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { fileURLToPath } from 'node:url';
import { MetadataLookupError } from './source.ts';

/**
 * The package's proto/ directory. This module sits three levels below the package root both as
 * `src/discovery/metadata/grpc.ts` (tsx) and as `dist/discovery/metadata/grpc.js` (built).
 */
export const PROTO_DIR = fileURLToPath(new URL('../../../proto/', import.meta.url));

/** A runtime's answer is a few KiB; anything past this is not an answer we want in memory. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

/** Longest a call may take even when the caller's signal never aborts. */
export const MAX_CALL_MS = 30_000;

/** One service of a .proto file: its full name and its methods' paths and (de)serializers. */
export interface GrpcService {
  readonly name: string;
  readonly methods: protoLoader.ServiceDefinition;
}

/**
 * The decoding every client uses: field names as in the .proto (snake_case), 64-bit integers as
 * decimal strings (nanosecond timestamps do not fit a double exactly), enums by name, and absent
 * fields left absent (so that "unset" and "empty" stay apart).
 */
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: false, oneofs: true, includeDirs: [PROTO_DIR] };

const packages = new Map<string, protoLoader.PackageDefinition>();

/** A service of a .proto file under proto/ (`cri/api.proto`); each file is parsed once per process. */
export function loadGrpcService(protoFile: string, serviceName: string): GrpcService {
  let definition = packages.get(protoFile);
  if (!definition) {
    definition = protoLoader.loadSync(protoFile, LOADER_OPTIONS);
    packages.set(protoFile, definition);
  }
  const service = definition[serviceName];
  // Message and enum definitions carry a `format`; a service is a plain map of methods.
  if (!service || 'format' in service) throw new Error(`${protoFile} has no service ${serviceName} (looked in ${PROTO_DIR})`);
  return { name: serviceName, methods: service as protoLoader.ServiceDefinition };
}

export interface GrpcUnaryClient {
  /**
   * Calls `method` and resolves its answer, or undefined when the server says NOT_FOUND. Rejects
   * only with MetadataLookupError: `unavailable` (UNAVAILABLE: socket missing, refusing,
   * forbidden, or this client closed), `timeout` (DEADLINE_EXCEEDED, or `signal` aborted),
   * `protocol` (any other status). `headers` go out as gRPC metadata.
   */
  call<Response>(method: string, request: object, signal: AbortSignal, headers?: Readonly<Record<string, string>>): Promise<Response | undefined>;
  /** Closes the channel; later calls reject as `unavailable`. */
  close(): void;
}

export interface GrpcClientOptions {
  /** The deadline of a call whose signal never aborts (default MAX_CALL_MS). */
  readonly maxCallMs?: number;
}

/**
 * A client of `service` at the unix socket `socketPath`, named `source` in its errors. It holds
 * one channel, opened at the first call and reused by every later one; a socket that is missing
 * or refusing fails a call at once (no wait-for-ready), and the channel keeps trying to reconnect
 * at most every 5 s, so a runtime that comes back is answered soon without a new client.
 */
export function createGrpcClient(source: string, socketPath: string, service: GrpcService, options: GrpcClientOptions = {}): GrpcUnaryClient {
  const maxCallMs = options.maxCallMs ?? MAX_CALL_MS;
  let client: grpc.Client | undefined;
  let closed = false;
  const failure = (type: 'unavailable' | 'timeout' | 'protocol', message: string): MetadataLookupError => new MetadataLookupError(source, type, message);

  const channel = (): grpc.Client =>
    (client ??= new grpc.Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 5_000,
      'grpc.enable_retries': 0,
    }));

  const call = <Response>(
    method: string,
    request: object,
    signal: AbortSignal,
    headers: Readonly<Record<string, string>> = {},
  ): Promise<Response | undefined> => {
    const what = `${service.name}/${method} on ${socketPath}`;
    if (closed) return Promise.reject(failure('unavailable', `${what}: the client is closed`));
    if (signal.aborted) return Promise.reject(failure('timeout', `${what}: the deadline passed before the call`));
    const definition = service.methods[method];
    if (!definition || definition.requestStream || definition.responseStream)
      return Promise.reject(failure('protocol', `${what}: no unary method ${method} in the service`));
    const metadata = new grpc.Metadata();
    for (const [k, v] of Object.entries(headers)) metadata.set(k, v);

    return new Promise<Response | undefined>((resolve, reject) => {
      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        pending.cancel();
      };
      const pending = channel().makeUnaryRequest<object, Response>(
        definition.path,
        definition.requestSerialize as (value: object) => Buffer,
        definition.responseDeserialize as (value: Buffer) => Response,
        request,
        metadata,
        { deadline: Date.now() + maxCallMs },
        (err, response) => {
          signal.removeEventListener('abort', onAbort);
          if (!err) {
            if (response === undefined) reject(failure('protocol', `${what}: an empty answer`));
            else resolve(response);
            return;
          }
          if (aborted || err.code === grpc.status.DEADLINE_EXCEEDED) reject(failure('timeout', `${what}: no answer by the deadline`));
          else if (err.code === grpc.status.NOT_FOUND) resolve(undefined);
          else if (err.code === grpc.status.UNAVAILABLE) reject(failure('unavailable', `${what}: ${err.details || err.message}`));
          else reject(failure('protocol', `${what}: ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
        },
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  };

  return {
    call,
    close() {
      closed = true;
      client?.close();
    },
  };
}
