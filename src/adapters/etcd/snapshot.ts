// Streams an etcd v3 snapshot (Maintenance.Snapshot) through the JSON gateway: `POST /v3/maintenance/snapshot`
// answers newline-delimited JSON messages `{"result":{"header":{...},"remaining_bytes":"N","blob":"<base64>"}}`
// (an `{"error":{...}}` message when it fails half way). The decoded blobs joined are the snapshot file that
// `etcdctl snapshot save` writes: the bbolt database followed by its SHA-256 (32 bytes), which etcd appends so
// a restore can check the file (etcd 3.4 and 3.5 alike: server/etcdserver/api/v3rpc/maintenance.go).
// Nothing here holds more than one message in memory.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { AxiosInstance } from 'axios';
import { EtcdError } from './errors.js';

/** The header of the first message: who answered, and the revision the snapshot was taken at. */
export interface SnapshotHeader {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: bigint;
}

export interface SnapshotStreamOptions {
  /** Bound for the answer to start, and for every pause between two messages after that. */
  readonly idleTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The trailer etcd appends to the database: its SHA-256. */
export const SNAPSHOT_TRAILER_BYTES = 32;
const DEFAULT_IDLE_TIMEOUT_MS = 15_000;
/** A message holds one 32 KiB chunk (about 44 KiB of base64); anything far larger is not a snapshot answer. */
const MAX_LINE_CHARS = 8 * 1024 * 1024;
/** A chunk message with nothing but its blob, as etcd 3.4 and 3.5 write all but the first (no header, no count). */
const BLOB_PREFIX = '{"result":{"blob":"';

/**
 * Opens the snapshot stream of exactly `endpoint` (no fail-over: the bytes must come from one member).
 * Resolves once the answer starts, with the snapshot's bytes as a Readable and its header; the Readable errors
 * with an EtcdError when etcd reports an error, stops answering for `idleTimeoutMs`, or the stream ends early.
 */
export async function openSnapshotStream(
  http: AxiosInstance,
  endpoint: string,
  token: string | undefined,
  options: SnapshotStreamOptions = {},
): Promise<{ readonly bytes: Readable; readonly header: Promise<SnapshotHeader> }> {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const controller = new AbortController();
  const signal = options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
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
    if (options.signal?.aborted === true)
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
  const decoder = new SnapshotDecoder(endpoint);
  const rearm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), idleMs);
  };
  body.on('data', rearm);
  body.on('end', () => clearTimeout(timer));
  body.on('error', (err) => {
    clearTimeout(timer);
    const why =
      controller.signal.aborted && options.signal?.aborted !== true ? `stopped answering for ${idleMs} ms` : `failed (${err.message})`;
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
class SnapshotDecoder extends Transform {
  readonly header: Promise<SnapshotHeader>;
  private resolveHeader!: (h: SnapshotHeader) => void;
  private rejectHeader!: (err: Error) => void;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private remaining: bigint | undefined;

  constructor(private readonly endpoint: string) {
    super({ readableHighWaterMark: 1024 * 1024 });
    this.header = new Promise((resolve, reject) => {
      this.resolveHeader = resolve;
      this.rejectHeader = reject;
    });
    this.header.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  }

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
      if (this.remaining === undefined) throw this.invalid('no snapshot data');
      if (this.remaining !== 0n)
        throw new EtcdError('unavailable', `the snapshot stream from ${this.endpoint} ended with ${this.remaining} bytes still to come`, {
          endpoint: this.endpoint,
        });
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.rejectHeader(
      err ?? new EtcdError('aborted', `the snapshot from ${this.endpoint} was closed before it started`, { endpoint: this.endpoint }),
    );
    callback(err);
  }

  private message(line: string): void {
    if (line.trim() === '') return;
    // The common message, a bare chunk: its base64 taken without parsing ~44 KB of JSON (base64 is ASCII, so the
    // latin1 decoding above is exact for it). Anything else (the first message, errors) is parsed in full.
    if (
      this.remaining !== undefined &&
      line.startsWith(BLOB_PREFIX) &&
      line.endsWith('"}}') &&
      line.indexOf('"', BLOB_PREFIX.length) === line.length - 3
    ) {
      const blob = line.slice(BLOB_PREFIX.length, -3);
      if (/^[A-Za-z0-9+/=]*$/.test(blob.slice(0, 64)) && /^[A-Za-z0-9+/=]*$/.test(blob.slice(-64))) {
        this.remaining = 0n;
        if (blob !== '') this.push(Buffer.from(blob, 'base64'));
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
    if (this.remaining === undefined) this.resolveHeader(headerOf(result.header));
    this.remaining = BigInt(
      typeof result.remaining_bytes === 'string' || typeof result.remaining_bytes === 'number' ? result.remaining_bytes : 0,
    );
    if (typeof result.blob === 'string' && result.blob !== '') this.push(Buffer.from(result.blob, 'base64'));
  }

  private invalid(what: string): EtcdError {
    return new EtcdError('invalid-response', `etcd at ${this.endpoint} answered the snapshot with ${what}`, { endpoint: this.endpoint });
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
  private readonly whole: Hash = createHash('sha256');
  private readonly database: Hash = createHash('sha256');
  private tail = Buffer.alloc(0);
  // Not `size`: lib-storage reads a body's `size` as its length.
  private byteCount = 0;
  private done: SnapshotDigestResult | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.whole.update(chunk);
    this.byteCount += chunk.length;
    const joined = this.tail.length === 0 ? chunk : Buffer.concat([this.tail, chunk]);
    const keep = Math.min(SNAPSHOT_TRAILER_BYTES, joined.length);
    this.database.update(joined.subarray(0, joined.length - keep));
    this.tail = Buffer.from(joined.subarray(joined.length - keep));
    callback(null, chunk);
  }

  /** `requireIntegrity`: the stream errors at its end, before it ends, when the trailer does not match. */
  constructor(private readonly requireIntegrity = false) {
    super();
  }

  override _flush(callback: TransformCallback): void {
    const integrity = this.tail.length === SNAPSHOT_TRAILER_BYTES && this.database.digest().equals(this.tail);
    this.done = { sha256: this.whole.digest('hex'), size: this.byteCount, integrity };
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
