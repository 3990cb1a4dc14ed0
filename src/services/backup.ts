// A backup: a verified snapshot of the cluster, streamed into the backup store. The snapshot is never held
// whole in memory; the store writes its manifest only after the stream passed etcd's checksum, so a failure at
// any point leaves nothing that could be taken for a good snapshot.
import { randomBytes } from 'node:crypto';
import type { BackupStore, StoredSnapshot } from '../adapters/aws/backups.js';
import { openSnapshot, type SnapshotOptions } from './snapshot.js';
import { errorMessage } from '../core/errors.js';

/** Takes a snapshot of the cluster at `options.endpoints` and stores it; resolves with what was stored. */
export async function backUp(
  store: BackupStore,
  options: SnapshotOptions & { readonly now?: Date },
): Promise<StoredSnapshot & { readonly source: string; readonly ms: number }> {
  const started = Date.now();
  const snapshot = await openSnapshot(options);
  const key = store.newKey(options.now ?? new Date(), randomBytes(4).toString('hex'));
  const stored = await store.put(key, snapshot.bytes, snapshot.manifest);
  const ms = Date.now() - started;
  options.log.info('snapshot stored', {
    key,
    bucket: store.bucket,
    sha256: stored.manifest.sha256,
    size: stored.manifest.size,
    revision: stored.manifest.revision,
    source: snapshot.source.name,
    ms,
  });
  await copyToDaily(store, stored, options.log);
  return { ...stored, source: snapshot.source.name, ms };
}

/** The daily tier: a failed copy costs only that tier's copy of the day (the next snapshot retries), never the backup. */
async function copyToDaily(store: BackupStore, stored: StoredSnapshot, log: SnapshotOptions['log']): Promise<void> {
  try {
    const daily = await store.copyToDaily(stored);
    if (daily !== undefined) log.info('daily snapshot copied', { key: stored.key, daily, bucket: store.bucket });
  } catch (err) {
    log.warn('daily snapshot copy failed', { key: stored.key, bucket: store.bucket, error: errorMessage(err) });
  }
}
