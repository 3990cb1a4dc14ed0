// What both snapshot transports (gRPC, JSON gateway) share: the stream of SnapshotResponse messages turned into
// the snapshot's bytes, the header of the first message, and the check that the stream ended where etcd said.
import { Transform } from 'node:stream';
import { EtcdError } from './errors.js';

/** The header of the first message: who answered, and the revision the snapshot was taken at (0 when absent). */
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

/** One decoded SnapshotResponse. */
export interface SnapshotChunk {
  readonly header: SnapshotHeader | undefined;
  /** Bytes still to come after this message's blob; 0 in the last one. */
  readonly remaining: bigint;
  readonly blob: Buffer;
}

/**
 * How much a stage of a snapshot pipeline buffers: the decoder's output, and a file written from it. With Node's
 * default 16 KiB a file stream takes one 32 KiB chunk per disk write round trip; 1 MiB lets writes batch
 * (measured on a loaded 2-core machine: 125 MB to a file in 0.8-2.2 s instead of 2.6-4.3 s).
 */
export const SNAPSHOT_BUFFER_BYTES = 1024 * 1024;

const NO_HEADER: SnapshotHeader = { clusterId: 0n, memberId: 0n, revision: 0n };

/**
 * Messages in (a subclass reads its wire format and calls `chunk`), the snapshot's bytes out; holds at most
 * SNAPSHOT_BUFFER_BYTES of output before the consumer takes it (the transport's own window bounds what is in flight).
 */
export abstract class SnapshotMessages extends Transform {
  readonly header: Promise<SnapshotHeader>;
  private resolveHeader!: (h: SnapshotHeader) => void;
  private rejectHeader!: (err: Error) => void;
  private remaining: bigint | undefined;

  constructor(protected readonly endpoint: string) {
    super({ readableHighWaterMark: SNAPSHOT_BUFFER_BYTES });
    this.header = new Promise((resolve, reject) => {
      this.resolveHeader = resolve;
      this.rejectHeader = reject;
    });
    this.header.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  }

  /** A message arrived: the first resolves the header; its blob goes out as is. */
  protected chunk(message: SnapshotChunk): void {
    if (this.remaining === undefined) this.resolveHeader(message.header ?? NO_HEADER);
    this.remaining = message.remaining;
    if (message.blob.length > 0) this.push(message.blob);
  }

  /** Whether a message arrived yet. */
  protected get started(): boolean {
    return this.remaining !== undefined;
  }

  /** At the end: throws unless the last message said nothing remains. */
  protected finish(): void {
    if (this.remaining === undefined) throw this.invalid('no snapshot data');
    if (this.remaining !== 0n) throw this.incomplete(`ended with ${this.remaining} bytes still to come`);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.rejectHeader(
      err ?? new EtcdError('aborted', `the snapshot from ${this.endpoint} was closed before it started`, { endpoint: this.endpoint }),
    );
    callback(err);
  }

  protected invalid(what: string): EtcdError {
    return new EtcdError('invalid-response', `etcd at ${this.endpoint} answered the snapshot with ${what}`, { endpoint: this.endpoint });
  }

  protected incomplete(what: string): EtcdError {
    return new EtcdError('unavailable', `the snapshot stream from ${this.endpoint} ${what}`, { endpoint: this.endpoint });
  }
}
