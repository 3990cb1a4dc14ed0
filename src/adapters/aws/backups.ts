// The backup store: etcd snapshots in S3 under `<prefix>/snapshots/`. Each snapshot is two objects: the
// snapshot `<stamp>.db` (streamed, multipart above 5 MiB) and its manifest `<stamp>.db.manifest.json`, written
// only after the snapshot object is complete AND the stream passed etcd's checksum. A snapshot without a
// manifest (an upload that failed half way, or a crash between the two) is never listed as one: the manifest is
// the mark of a good snapshot. Keys begin with a UTC timestamp, so S3's key order is their age.
// The daily tier `<prefix>/daily/` keeps the first snapshot of each UTC day longer (its own lifecycle rule): a
// server-side copy of the snapshot, then of its manifest, so a daily snapshot too is complete once its manifest is.
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import * as z from '../zod.js';
import { errorMessage } from '../../core/errors.js';

export const MANIFEST_SUFFIX = '.manifest.json';
/** How many of the newest keys latest() reads the manifests of. */
const LATEST_LOOKAHEAD = 4;

/** What the store keeps about a snapshot (the service's SnapshotManifest, validated when read back). */
export const snapshotManifestSchema = z.object({
  format: z.literal(1),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
  size: z.number().check(z.int(), z.positive()),
  revision: z.string().check(z.regex(/^[0-9]+$/)),
  clusterId: z.string().check(z.regex(/^[0-9a-f]{1,16}$/)),
  memberId: z.string().check(z.regex(/^[0-9a-f]{1,16}$/)),
  memberCount: z.number().check(z.int(), z.positive()),
  etcdVersion: z.string(),
  takenAt: z.string(),
});
export type StoredManifest = z.infer<typeof snapshotManifestSchema>;

export interface StoredSnapshot {
  /** The snapshot object's key. */
  readonly key: string;
  readonly manifest: StoredManifest;
}

export class BackupStoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'BackupStoreError';
  }
}

export interface BackupStoreOptions {
  readonly bucket: string;
  /** Key prefix without a trailing slash, e.g. "elastic-etcd/my-cluster". */
  readonly prefix: string;
  /** Multipart part size (S3's minimum, 5 MiB, by default): memory held is about partSize × queueSize. */
  readonly partSize?: number;
}

/** A client for the store's S3 endpoint: path-style when an endpoint is given (the simulated cloud). */
export function createS3Client(
  options: {
    region?: string;
    endpoint?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
    maxAttempts?: number;
  } = {},
): S3Client {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3;
  return new S3Client({
    maxAttempts: options.maxAttempts ?? 5,
    ...(options.region !== undefined && { region: options.region }),
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    ...(endpoint !== undefined && { endpoint, forcePathStyle: true }),
  });
}

export class BackupStore {
  constructor(
    private readonly s3: S3Client,
    private readonly options: BackupStoreOptions,
  ) {}

  get bucket(): string {
    return this.options.bucket;
  }

  snapshotsPrefix(): string {
    return `${this.options.prefix}/snapshots/`;
  }

  /**
   * A new snapshot key: `<prefix>/snapshots/<UTC stamp to the millisecond>-<suffix>.db`. The stamp keeps its
   * milliseconds so that keys sort in the order they were taken: `latest()` takes the last key listed, and two
   * snapshots within one second would otherwise be ordered by their suffix.
   */
  newKey(now: Date, suffix: string): string {
    return `${this.snapshotsPrefix()}${now.toISOString().replace(/[-:]/g, '')}-${suffix}.db`;
  }

  /**
   * Streams `bytes` to `key`, then writes the manifest once `manifest` resolves (after the stream ended and was
   * verified). A failed stream aborts the multipart upload (no object); a failure after it leaves a snapshot
   * object without a manifest, which is never listed.
   */
  async put(key: string, bytes: Readable, manifest: Promise<StoredManifest>): Promise<StoredSnapshot> {
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.options.bucket, Key: key, Body: bytes, ContentType: 'application/octet-stream' },
      partSize: this.options.partSize ?? 5 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      bytes.destroy();
      throw new BackupStoreError(`uploading the snapshot to s3://${this.options.bucket}/${key} failed: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const verified = snapshotManifestSchema.parse(await manifest);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: `${key}${MANIFEST_SUFFIX}`,
        Body: JSON.stringify(verified),
        ContentType: 'application/json',
        Metadata: { sha256: verified.sha256, revision: verified.revision, 'cluster-id': verified.clusterId },
      }),
    );
    return { key, manifest: verified };
  }

  /** Where the daily tier's copies are (`<prefix>/daily/`). */
  dailyPrefix(): string {
    return `${this.options.prefix}/daily/`;
  }

  /**
   * Copies `stored` into the daily tier when it is the first snapshot of its UTC day there: a day counts as
   * covered once a daily manifest of that day exists, so a copy that failed half way is made again by the next
   * snapshot. Server-side (CopyObject: nothing passes through the Lambda), the snapshot first and its manifest
   * second. Resolves with the daily key, or undefined when the day was already covered.
   */
  async copyToDaily(stored: StoredSnapshot): Promise<string | undefined> {
    const name = stored.key.slice(stored.key.lastIndexOf('/') + 1);
    const day = /^(\d{8})T/.exec(name)?.[1];
    if (!stored.key.startsWith(this.snapshotsPrefix()) || day === undefined)
      throw new BackupStoreError(`${stored.key} is not a snapshot key of this store`);
    const page = await this.s3.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: `${this.dailyPrefix()}${day}T` }));
    if ((page.Contents ?? []).some((o) => o.Key?.endsWith(MANIFEST_SUFFIX) === true)) return undefined;
    const dailyKey = `${this.dailyPrefix()}${name}`;
    for (const suffix of ['', MANIFEST_SUFFIX]) {
      await this.s3.send(
        new CopyObjectCommand({
          Bucket: this.options.bucket,
          Key: `${dailyKey}${suffix}`,
          CopySource: `${this.options.bucket}/${encodeKey(`${stored.key}${suffix}`)}`,
        }),
      );
    }
    return dailyKey;
  }

  /** Every daily snapshot with a manifest, oldest first (by key). */
  async dailyList(): Promise<string[]> {
    return this.manifestKeys(this.dailyPrefix());
  }

  /** The size of the object at `key`, or undefined when there is none. */
  async objectSize(key: string): Promise<number | undefined> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return head.ContentLength;
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name === 'NotFound' || name === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /** Keys under `prefix` that have a manifest beside them (the manifest is the mark of a complete snapshot), sorted. */
  private async manifestKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ...(token !== undefined && { ContinuationToken: token }) }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key?.endsWith(MANIFEST_SUFFIX) === true) keys.push(o.Key.slice(0, -MANIFEST_SUFFIX.length));
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys.sort();
  }

  /** Every snapshot with a manifest, oldest first (by key). */
  async list(): Promise<string[]> {
    return this.manifestKeys(this.snapshotsPrefix());
  }

  /**
   * The newest snapshot with a valid manifest (by the manifest's takenAt, in either tier), or undefined when
   * there is none. Reads the manifests of the few newest keys only: a key's stamp is when it was taken.
   */
  async latest(): Promise<StoredSnapshot | undefined> {
    return (await this.candidates({ limit: LATEST_LOOKAHEAD }))[0];
  }

  /** The manifest of the snapshot at `key`; BackupStoreError when it is missing or malformed. */
  async manifest(key: string): Promise<StoredManifest> {
    let text: string;
    try {
      const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: `${key}${MANIFEST_SUFFIX}` }));
      text = (await answer.Body?.transformToString()) ?? '';
    } catch (err) {
      if ((err as { name?: string }).name === 'NoSuchKey')
        throw new BackupStoreError(`s3://${this.options.bucket}/${key} has no manifest: it is not a complete snapshot`, { cause: err });
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new BackupStoreError(`the manifest of s3://${this.options.bucket}/${key} is not JSON`, { cause: err });
    }
    const parsed = snapshotManifestSchema.safeParse(json);
    if (!parsed.success)
      throw new BackupStoreError(
        `the manifest of s3://${this.options.bucket}/${key} is malformed (${parsed.error.issues[0]?.message ?? 'invalid'})`,
      );
    return parsed.data;
  }

  /** The snapshot's bytes, streamed. */
  async open(key: string): Promise<Readable> {
    const answer = await this.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
    if (answer.Body === undefined) throw new BackupStoreError(`s3://${this.options.bucket}/${key} has no body`);
    return answer.Body as Readable;
  }

  // --- restore candidates (both tiers) -------------------------------------------------------------------

  /**
   * Every snapshot with a valid manifest under `<prefix>/snapshots/` and `<prefix>/daily/`: the candidates of a
   * restore, newest `takenAt` first. A snapshot object without a manifest (half-finished) is never one. With
   * `limit`, only the manifests of that many newest keys (by their stamp) are read. A manifest that cannot be
   * read is skipped and reported to `onSkip`.
   */
  async candidates(options: { limit?: number; onSkip?: (key: string, reason: string) => void } = {}): Promise<StoredSnapshot[]> {
    const keys = [...(await this.manifestKeys(this.snapshotsPrefix())), ...(await this.manifestKeys(this.dailyPrefix()))];
    const stamp = (key: string): string => key.slice(key.lastIndexOf('/') + 1);
    keys.sort((a, b) => (stamp(a) < stamp(b) ? 1 : stamp(a) > stamp(b) ? -1 : a < b ? 1 : -1));
    const found: StoredSnapshot[] = [];
    for (const key of keys.slice(0, options.limit ?? keys.length)) {
      try {
        found.push({ key, manifest: await this.manifest(key) });
      } catch (err) {
        if (!(err instanceof BackupStoreError)) throw err;
        options.onSkip?.(key, err.message);
      }
    }
    const at = (s: StoredSnapshot): number => Date.parse(s.manifest.takenAt) || 0;
    return found.sort((a, b) => at(b) - at(a) || (a.key < b.key ? 1 : -1));
  }
}

/** An object key as `x-amz-copy-source` wants it: each segment URL-encoded, the slashes kept. */
function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}
