// Streams an etcd v3 snapshot (Maintenance.Snapshot). The decoded chunks joined are the snapshot file that
// `etcdctl snapshot save` writes: the bbolt database followed by its SHA-256 (32 bytes), which etcd appends so
// a restore can check the file (etcd 3.4 and 3.5 alike: server/etcdserver/api/v3rpc/maintenance.go).
//
// Two transports on the same client URL: gRPC (grpc-snapshot.ts), about five times faster, and etcd's JSON
// gateway, `POST /v3/maintenance/snapshot`, which answers newline-delimited JSON messages
// `{"result":{"header":{...},"remaining_bytes":"N","blob":"<base64>"}}` (an `{"error":{...}}` message when it
// fails half way), for an endpoint that does not speak gRPC. Neither holds more than a few chunks in memory.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { AxiosInstance } from 'axios';
import { EtcdError } from './errors.js';
import { NotGrpcError, openGrpcSnapshotStream } from './grpc-snapshot.js';
import { SnapshotMessages, type SnapshotHeader, type SnapshotStreamOptions } from './snapshot-messages.js';
import type { EtcdTlsOptions } from './tls.js';

export { SNAPSHOT_BUFFER_BYTES, type SnapshotHeader, type SnapshotStreamOptions } from './snapshot-messages.js';

/** The trailer etcd appends to the database: its SHA-256. */
export const SNAPSHOT_TRAILER_BYTES = 32;
const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** A message holds one 32 KiB chunk (about 44 KiB of base64); anything far larger is not a snapshot answer. */
const MAX_LINE_CHARS = 8 * 1024 * 1024;
/** A chunk message with nothing but its blob, as etcd 3.4 and 3.5 write all but the first (no header, no count). */
const BLOB_PREFIX = '{"result":{"blob":"';

/** Which transport: gRPC with the gateway as the fallback ('auto', the default), or only one of them. */
export type SnapshotTransport = 'auto' | 'grpc' | 'gateway';

/**
 * Opens the snapshot stream of exactly `endpoint` (no fail-over: the bytes must come from one member), over gRPC
 * unless `transport` is 'gateway' or (with 'auto') the endpoint does not speak gRPC. Resolves once the answer starts, with the
 * snapshot's bytes as a Readable and its header; the Readable errors with an EtcdError when etcd reports an
 * error, stops answering for `idleTimeoutMs`, or the stream ends early.
 */
export async function openSnapshotStream(
  http: AxiosInstance,
  endpoint: string,
  token: string | undefined,
  options: SnapshotStreamOptions & { readonly tls?: EtcdTlsOptions; readonly transport?: SnapshotTransport } = {},
): Promise<{ readonly bytes: Readable; readonly header: Promise<SnapshotHeader> }> {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (options.transport !== 'gateway') {
    try {
      return await openGrpcSnapshotStream(endpoint, token, options.tls, idleMs, options.signal);
    } catch (err) {
      // Only "this endpoint does not speak gRPC" falls back; etcd's own refusal, a timeout or a cancel do not.
      if (!(err instanceof NotGrpcError)) throw err;
      if (options.transport === 'grpc')
        throw new EtcdError('unavailable', `etcd at ${endpoint} did not answer the snapshot over gRPC (${err.message})`, {
          endpoint,
          cause: err,
        });
    }
  }
  return openGatewaySnapshotStream(http, endpoint, token, idleMs, options.signal);
}

async function openGatewaySnapshotStream(
  http: AxiosInstance,
  endpoint: string,
  token: string | undefined,
  idleMs: number,
  callerSignal: AbortSignal | undefined,
): Promise<{ readonly bytes: Readable; readonly header: Promise<SnapshotHeader> }> {
  const controller = new AbortController();
  const signal = callerSignal === undefined ? controller.signal : AbortSignal.any([callerSignal, controller.signal]);
  let timer = setTimeout(() => controller.abort(), idleMs);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = token;
  let body: Readable;
  let status: number;
  try {
    const response = await http.request<Readable>({
      url: `${endpoint}/v3/maintenance/snapshot`,
      method: 'POST',
      headers,
      data: '{}',
      responseType: 'stream',
      signal,
    });
    body = response.data;
    status = response.status;
  } catch (err) {
    clearTimeout(timer);
    if (callerSignal?.aborted === true)
      throw new EtcdError('aborted', `the snapshot from ${endpoint} was cancelled`, { endpoint, cause: err });
    if (controller.signal.aborted)
      throw new EtcdError('timeout', `etcd at ${endpoint} did not start a snapshot within ${idleMs} ms`, { endpoint, cause: err });
    const reason = (err as { code?: string }).code ?? (err as Error).message;
    throw new EtcdError('unavailable', `etcd at ${endpoint} is unreachable (${reason})`, { endpoint, cause: err });
  }
  if (status < 200 || status >= 300) {
    clearTimeout(timer);
    const text = await readSome(body, 2000);
    throw new EtcdError('unavailable', `etcd at ${endpoint} refused the snapshot: HTTP ${status} ${text.trim().slice(0, 200)}`, {
      endpoint,
      httpStatus: status,
    });
  }
  const decoder = new GatewaySnapshotDecoder(endpoint);
  const rearm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), idleMs);
  };
  body.on('data', rearm);
  body.on('end', () => clearTimeout(timer));
  body.on('error', (err) => {
    clearTimeout(timer);
    const why =
      controller.signal.aborted && callerSignal?.aborted !== true ? `stopped answering for ${idleMs} ms` : `failed (${err.message})`;
    decoder.destroy(
      new EtcdError(controller.signal.aborted ? 'timeout' : 'unavailable', `the snapshot stream from ${endpoint} ${why}`, {
        endpoint,
        cause: err,
      }),
    );
  });
  decoder.on('close', () => {
    clearTimeout(timer);
    body.destroy();
  });
  body.pipe(decoder);
  return { bytes: decoder, header: decoder.header };
}

/** NDJSON gateway messages in, the snapshot's bytes out. */
export class GatewaySnapshotDecoder extends SnapshotMessages {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    // Bytes, not strings: a line is cut only at '\n' (never inside a UTF-8 sequence), and nothing is copied twice.
    try {
      let start = 0;
      let newline: number;
      while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
        const piece = chunk.subarray(start, newline);
        const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece]);
        this.pending = [];
        this.pendingBytes = 0;
        this.message(line.toString('latin1'));
        start = newline + 1;
      }
      if (start < chunk.length) {
        this.pending.push(chunk.subarray(start));
        this.pendingBytes += chunk.length - start;
      }
      if (this.pendingBytes > MAX_LINE_CHARS) throw this.invalid('a message longer than 8 MiB');
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.message(Buffer.concat(this.pending).toString('latin1'));
      this.finish();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  private message(line: string): void {
    if (line.trim() === '') return;
    // The common message, a bare chunk: its base64 taken without parsing ~44 KB of JSON (base64 is ASCII, so the
    // latin1 decoding above is exact for it). Anything else (the first message, errors) is parsed in full.
    if (this.started && line.startsWith(BLOB_PREFIX) && line.endsWith('"}}') && line.indexOf('"', BLOB_PREFIX.length) === line.length - 3) {
      const blob = line.slice(BLOB_PREFIX.length, -3);
      if (/^[A-Za-z0-9+/=]*$/.test(blob.slice(0, 64)) && /^[A-Za-z0-9+/=]*$/.test(blob.slice(-64))) {
        this.chunk({ header: undefined, remaining: 0n, blob: Buffer.from(blob, 'base64') });
        return;
      }
    }
    line = Buffer.from(line, 'latin1').toString('utf8');
    let parsed: {
      result?: { header?: Record<string, unknown>; remaining_bytes?: unknown; blob?: unknown };
      error?: { message?: unknown; grpc_code?: unknown; code?: unknown };
    };
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch {
      throw this.invalid('a message that is not JSON');
    }
    if (parsed.error !== undefined) {
      throw new EtcdError(
        'unavailable',
        `etcd at ${this.endpoint} failed the snapshot: ${typeof parsed.error.message === 'string' ? parsed.error.message : 'unknown error'}`,
        { endpoint: this.endpoint },
      );
    }
    const result = parsed.result;
    if (result === undefined || (result.blob !== undefined && typeof result.blob !== 'string'))
      throw this.invalid('a message without a result');
    this.chunk({
      header: headerOf(result.header),
      remaining: BigInt(
        typeof result.remaining_bytes === 'string' || typeof result.remaining_bytes === 'number' ? result.remaining_bytes : 0,
      ),
      blob: typeof result.blob === 'string' ? Buffer.from(result.blob, 'base64') : Buffer.alloc(0),
    });
  }
}

function headerOf(wire: Record<string, unknown> | undefined): SnapshotHeader {
  const big = (v: unknown): bigint => (typeof v === 'string' || typeof v === 'number' ? BigInt(v) : 0n);
  return { clusterId: big(wire?.cluster_id), memberId: big(wire?.member_id), revision: big(wire?.revision) };
}

async function readSome(stream: Readable, limit: number): Promise<string> {
  let text = '';
  try {
    for await (const chunk of stream) {
      text += String(chunk);
      if (text.length >= limit) break;
    }
  } catch {
    // the reason is the status we already have
  } finally {
    stream.destroy();
  }
  return text;
}

/** What a digest saw once the stream ended. */
export interface SnapshotDigestResult {
  /** SHA-256 of every byte (the database and its trailer), hex: the stored object's checksum. */
  readonly sha256: string;
  readonly size: number;
  /** Whether the trailer is the SHA-256 of the database before it, as etcd wrote it. */
  readonly integrity: boolean;
}

/**
 * A pass-through that hashes what flows through it and checks etcd's own trailer, holding back no more than
 * the last 32 bytes. Read `result()` after the end.
 */
export class SnapshotDigest extends Transform {
  // One pass: `database` hashes all but the last 32 bytes seen; at the end a copy of it takes the trailer too,
  // which is the SHA-256 of every byte (half the hashing of two separate digests).
  private readonly database: Hash = createHash('sha256');
  private tail = Buffer.alloc(0);
  // Not `size`: lib-storage reads a body's `size` as its length.
  private byteCount = 0;
  private done: SnapshotDigestResult | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.byteCount += chunk.length;
    if (chunk.length >= SNAPSHOT_TRAILER_BYTES) {
      // The held-back tail is database after all; so is all of this chunk but its last 32 bytes (no copy).
      if (this.tail.length > 0) this.database.update(this.tail);
      this.database.update(chunk.subarray(0, chunk.length - SNAPSHOT_TRAILER_BYTES));
      this.tail = Buffer.from(chunk.subarray(chunk.length - SNAPSHOT_TRAILER_BYTES));
    } else {
      const joined = Buffer.concat([this.tail, chunk]);
      const keep = Math.min(SNAPSHOT_TRAILER_BYTES, joined.length);
      this.database.update(joined.subarray(0, joined.length - keep));
      this.tail = joined.subarray(joined.length - keep);
    }
    callback(null, chunk);
  }

  /** `requireIntegrity`: the stream errors at its end, before it ends, when the trailer does not match. */
  constructor(private readonly requireIntegrity = false) {
    super();
  }

  override _flush(callback: TransformCallback): void {
    const whole = this.database.copy().update(this.tail);
    const integrity = this.tail.length === SNAPSHOT_TRAILER_BYTES && this.database.digest().equals(this.tail);
    this.done = { sha256: whole.digest('hex'), size: this.byteCount, integrity };
    if (this.requireIntegrity && !integrity) {
      callback(
        new EtcdError(
          'invalid-response',
          `the snapshot's checksum does not match its data (${this.byteCount} bytes): it is damaged or not an etcd snapshot`,
        ),
      );
      return;
    }
    callback();
  }

  /** The digest, once the stream ended; undefined before. */
  result(): SnapshotDigestResult | undefined {
    return this.done;
  }
}
