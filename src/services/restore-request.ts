// An operator's restore request: which verified snapshot to restore, recorded where the Lambda reads it
// (`<ns>/restore-request`, schema in adapters/aws/restore-parameters.ts). Recording changes nothing in the
// cluster; the Lambda acts on it once no instance of the cluster can come back (the group scaled to 0 and up).
import { BackupStoreError, type BackupStore, type StoredSnapshot } from '../adapters/aws/backups.js';
import type { ParameterStore } from '../adapters/aws/parameters.js';
import { parseRestoreValue, restoreRequestSchema, type RestoreRequest } from '../adapters/aws/restore-parameters.js';

/** The request was refused: nothing was recorded. */
export class RestoreRequestError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'RestoreRequestError';
  }
}

/**
 * The snapshot `from` names, checked: 'latest' is the newest (by its manifest's takenAt) of both tiers whose
 * manifest is valid and whose object is there with the manifest's size; a key must be such a snapshot itself.
 */
export async function findSnapshot(store: BackupStore, from: string): Promise<StoredSnapshot> {
  if (from !== 'latest') {
    const found = await verified(store, from);
    if (found instanceof BackupStoreError)
      throw new RestoreRequestError(found.message, 'pick a snapshot that has a manifest, or --from latest');
    return found;
  }
  const keys = [...(await store.list()), ...(await store.dailyList())];
  const candidates: StoredSnapshot[] = [];
  for (const key of keys) {
    const found = await verified(store, key);
    if (!(found instanceof BackupStoreError)) candidates.push(found);
  }
  // A daily snapshot is a copy of a frequent one: equal takenAt, and either is as good; the frequent one first.
  const newest = candidates.reduce<StoredSnapshot | undefined>(
    (best, c) => (best === undefined || c.manifest.takenAt > best.manifest.takenAt ? c : best),
    undefined,
  );
  if (newest === undefined)
    throw new RestoreRequestError(
      `no verified snapshot in s3://${store.bucket}/${store.snapshotsPrefix()} or ${store.dailyPrefix()}`,
      'check --bucket and --backup-prefix (the construct uses the cluster name)',
    );
  return newest;
}

async function verified(store: BackupStore, key: string): Promise<StoredSnapshot | BackupStoreError> {
  try {
    const manifest = await store.manifest(key);
    const size = await store.objectSize(key);
    if (size === undefined) return new BackupStoreError(`s3://${store.bucket}/${key} does not exist (its manifest does)`);
    if (size !== manifest.size)
      return new BackupStoreError(`s3://${store.bucket}/${key} has ${size} bytes, its manifest says ${manifest.size}: it is damaged`);
    return { key, manifest };
  } catch (err) {
    if (err instanceof BackupStoreError) return err;
    throw err;
  }
}

/** The request pending now, if any (a malformed one counts as pending: it must be replaced or cancelled). */
export async function pendingRequest(parameters: ParameterStore): Promise<RestoreRequest | 'malformed' | undefined> {
  const raw = await parameters.get(parameters.restoreRequestName());
  if (raw === undefined) return undefined;
  try {
    return parseRestoreValue(restoreRequestSchema, raw, parameters.restoreRequestName());
  } catch {
    return 'malformed';
  }
}

/** Records `request`; refuses when one is pending unless `replace`. */
export async function recordRestoreRequest(parameters: ParameterStore, request: RestoreRequest, replace: boolean): Promise<void> {
  const value = JSON.stringify(restoreRequestSchema.parse(request));
  if (replace) {
    await parameters.put(parameters.restoreRequestName(), value);
    return;
  }
  const result = await parameters.createOnly(parameters.restoreRequestName(), value);
  if (!result.created) {
    let pending = 'a malformed one';
    try {
      const existing = parseRestoreValue(restoreRequestSchema, result.value, parameters.restoreRequestName());
      pending = `from ${existing.from}, requested at ${existing.requestedAt}${existing.requestedBy === undefined ? '' : ` by ${existing.requestedBy}`}`;
    } catch {
      // shown as malformed
    }
    throw new RestoreRequestError(
      `a restore request is already pending at ${parameters.restoreRequestName()} (${pending})`,
      'pass --replace to replace it, or --cancel to withdraw it',
    );
  }
}

/** Deletes a pending request; false when there was none. */
export async function cancelRestoreRequest(parameters: ParameterStore): Promise<boolean> {
  return parameters.delete(parameters.restoreRequestName());
}
