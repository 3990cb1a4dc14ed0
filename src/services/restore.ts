// Fetching a snapshot to restore from: the named (or newest) snapshot in the backup store, streamed to a local
// file and checked on the way against its manifest (SHA-256, size) and etcd's own trailer, and refused when it
// belongs to another cluster than the one expected. The file appears under its name only when all of it passed
// (temporary name beside it, then rename). The step every restore begins with: the Lambda names the snapshot,
// the instance (or an operator) fetches it with this, then runs `etcdutl snapshot restore` on it.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SnapshotDigest } from '../adapters/etcd/index.js';
import type { BackupStore, StoredSnapshot } from '../adapters/aws/backups.js';
import { errorMessage } from '../core/errors.js';

export class RestoreRefusedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RestoreRefusedError';
  }
}

export interface FetchOptions {
  /** A snapshot key, or 'latest' for the newest with a manifest. */
  readonly from: string;
  /** Where the snapshot file goes. */
  readonly to: string;
  /** Refuse a snapshot of any other cluster (hex ID as in the manifest). */
  readonly clusterId?: string;
}

/** Fetches and verifies a snapshot; resolves with what was fetched, or rejects with RestoreRefusedError. */
export async function fetchVerifiedSnapshot(store: BackupStore, options: FetchOptions): Promise<StoredSnapshot> {
  let chosen: StoredSnapshot;
  if (options.from === 'latest') {
    const latest = await store.latest();
    if (latest === undefined) throw new RestoreRefusedError(`no verified snapshot in s3://${store.bucket}/${store.snapshotsPrefix()}`);
    chosen = latest;
  } else {
    chosen = { key: options.from, manifest: await manifestOrRefuse(store, options.from) };
  }
  const { key, manifest } = chosen;
  if (options.clusterId !== undefined && manifest.clusterId !== options.clusterId) {
    throw new RestoreRefusedError(`snapshot ${key} belongs to cluster ${manifest.clusterId}, not ${options.clusterId}: refused`);
  }
  const temporary = join(dirname(options.to), `.${basename(options.to)}.partial-${randomBytes(4).toString('hex')}`);
  try {
    await streamVerified(store, chosen, createWriteStream(temporary, { flags: 'wx', mode: 0o600, flush: true }));
    await rename(temporary, options.to);
    return chosen;
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/**
 * Checks a stored snapshot without keeping it: streams it through the digest (size and SHA-256 against the
 * manifest, etcd's own trailer) into nothing. Resolves when it verifies; rejects with RestoreRefusedError
 * saying why not. The Lambda's step before deciding a restore from it.
 */
export async function verifyStoredSnapshot(store: BackupStore, snapshot: StoredSnapshot): Promise<void> {
  const discard = new Writable({ write: (_chunk, _encoding, callback) => callback() });
  await streamVerified(store, snapshot, discard);
}

/** Streams the snapshot through the digest into `sink`; RestoreRefusedError when it does not match its manifest. */
async function streamVerified(store: BackupStore, snapshot: StoredSnapshot, sink: Writable): Promise<void> {
  const { key, manifest } = snapshot;
  const digest = new SnapshotDigest(true);
  try {
    await pipeline(await store.open(key), digest, sink);
  } catch (err) {
    throw new RestoreRefusedError(`snapshot ${key} cannot be used: ${errorMessage(err)}`, { cause: err });
  }
  const seen = digest.result();
  if (seen?.sha256 !== manifest.sha256 || seen.size !== manifest.size) {
    throw new RestoreRefusedError(
      `snapshot ${key} does not match its manifest (SHA-256 ${seen?.sha256 ?? '?'}, ${seen?.size ?? '?'} bytes; expected ${manifest.sha256}, ${manifest.size} bytes): refused`,
    );
  }
}

async function manifestOrRefuse(store: BackupStore, key: string): Promise<StoredSnapshot['manifest']> {
  try {
    return await store.manifest(key);
  } catch (err) {
    throw new RestoreRefusedError(errorMessage(err), { cause: err });
  }
}
