// Recovery after quorum loss: a launch into a formed cluster that no member answers restores it from a verified
// snapshot instead of abandoning, when the rule (core/restore.ts) says so. The restore is a new first wave (new
// token, so no member of the lost cluster can ever talk to it) decided once, create-only, under the lost
// cluster's token; every member of it restores the snapshot (instances/<id>/restore) before etcd starts.
// Also here: the marks the rule reads (down-since, the observed revision) and what a pending request changes.
import { randomUUID } from 'node:crypto';
import { memberIdToHex } from '../core/ids.js';
import { errorMessage } from '../core/errors.js';
import { acceptedClusterIds, decideRestore, duration, lineageAfter, revisionsLost, type DataHolder } from '../core/restore.js';
import type { Plan, SelfIdentity } from '../core/types.js';
import { BackupStoreError, type StoredSnapshot } from '../adapters/aws/backups.js';
import {
  MalformedRestoreValueError,
  parseRestoreValue,
  restoreRequestSchema,
  type InstanceRestore,
  type RestoreRequest,
} from '../adapters/aws/restore-parameters.js';
import { isEtcdError } from '../adapters/etcd/index.js';
import { clientFor } from '../services/connection.js';
import { RestoreRefusedError, verifyStoredSnapshot } from '../services/restore.js';
import type { LifecycleDeps } from './deps.js';
import { parseBootstrapRecord, planStaticBootstrap, readBootstrapRecord, type BootstrapRecord } from './first-wave.js';
import { markFormed } from './formed.js';
import { candidateEndpoints, liveInstances, peerURL, type GroupView } from './group.js';
import { requireNamespace } from './namespace.js';
import { rescueSurvivors } from './rescue.js';

type Refusal = Extract<Plan, { kind: 'refuse' }>;

/** What the reconcile pass records of a cluster that answers: the recovery point of a later restore. */
interface Observed {
  readonly clusterId: string;
  readonly revision: string;
  readonly at: string;
}

/**
 * The cluster answered: the record learns that it formed and its cluster ID, the down-since mark goes, and the
 * revision seen is recorded when it moved (one PutParameter at most). Called by the reconcile pass.
 */
export async function noteClusterAnswers(group: GroupView, deps: LifecycleDeps): Promise<void> {
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  let status;
  try {
    status = await client.status();
  } catch (err) {
    if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return;
    throw err;
  } finally {
    client.close();
  }
  if (status.leader === 0n) {
    // Members answer from their local state, but without a leader nothing can be written: lost, not answering.
    if ((await readBootstrapRecord(deps))?.formedAt !== undefined) await noteClusterDown(deps);
    return;
  }
  const clusterId = memberIdToHex(status.clusterId);
  await markFormed(deps, clusterId);
  if (await deps.parameters.delete(deps.parameters.downSinceName())) deps.telemetry.info('the cluster answers again', { clusterId });
  if (status.revision === undefined) return;
  const name = deps.parameters.observedName();
  const previous = parseObserved(await deps.parameters.get(name));
  const revision = status.revision.toString();
  if (previous?.clusterId === clusterId && previous.revision === revision) return;
  await deps.parameters.put(name, JSON.stringify({ clusterId, revision, at: new Date().toISOString() } satisfies Observed));
}

/**
 * No member answers a formed cluster: the first time, `down-since` is written (create-only, so the earliest
 * sighting stays). Resolves with when it was first seen down.
 */
export async function noteClusterDown(deps: LifecycleDeps): Promise<number> {
  await requireNamespace(deps);
  const now = new Date().toISOString();
  const written = await deps.parameters.createOnly(deps.parameters.downSinceName(), now);
  if (written.created) deps.telemetry.warn('no member of the formed cluster answers', { since: now });
  const since = Date.parse(written.value);
  return Number.isFinite(since) ? since : Date.now();
}

/** Whether an operator's restore request is pending (terminations then leave the members alone). */
export async function restoreRequested(deps: LifecycleDeps): Promise<boolean> {
  return (await deps.parameters.get(deps.parameters.restoreRequestName())) !== undefined;
}

/**
 * A launch of `self` into the formed cluster of `record`, which no member answers. Undefined: no restore is
 * wanted (decide as without restores). Otherwise the plan: this instance's bootstrap in the restore wave, or a
 * refusal (a waitable one while the rule says wait; `no-backup` when no snapshot verifies, with nothing written).
 */
export async function restoreIfLost(
  record: BootstrapRecord,
  self: SelfIdentity,
  group: GroupView,
  deps: LifecycleDeps,
): Promise<Plan | undefined> {
  const decisionName = deps.parameters.restoreDecisionName(record.token);
  const already = await deps.parameters.get(decisionName);
  if (already !== undefined) {
    // Decided by an earlier invocation that did not finish: finish it.
    return adopt(parseBootstrapRecord(already, decisionName), self, deps);
  }

  let request: RestoreRequest | undefined;
  const rawRequest = await deps.parameters.get(deps.parameters.restoreRequestName());
  if (rawRequest !== undefined) {
    try {
      request = parseRestoreValue(restoreRequestSchema, rawRequest, deps.parameters.restoreRequestName());
    } catch (err) {
      if (!(err instanceof MalformedRestoreValueError)) throw err;
      return { kind: 'refuse', code: 'bad-restore-request', message: err.message };
    }
  }
  const backup = deps.config.backup;
  const downSince = await noteClusterDown(deps);
  const downForMs = Date.now() - downSince;
  const verdict = decideRestore({
    ...(request !== undefined && { request }),
    autoRestore: backup?.autoRestore === true,
    // A restore wave stands for a cluster whose data exist (in its snapshot) even before it formed.
    formed: record.formedAt !== undefined || record.restore !== undefined,
    answering: false,
    downForMs,
    restoreAfterMs: deps.restoreAfterMs ?? backup?.restoreAfterMs ?? Infinity,
    holders: await dataHolders(record, self.name, group, deps),
  });
  if (verdict.kind === 'none') {
    // Backups exist but automatic restores are off: the operator restores by request. Never an empty new
    // cluster in the meantime (deciding as without restores would start one once every instance is gone).
    if (backup === undefined) return undefined;
    return {
      kind: 'refuse',
      code: 'cluster-down',
      message: `no member answers and automatic restores are off: record a restore request to restore from ${backup.bucket}`,
    };
  }
  if (verdict.kind === 'rescue') {
    // A majority is gone, live survivors hold the newest data: snapshot the most advanced one, then let the group
    // replace them; once they are gone the restore takes that snapshot (the newest), losing nothing they held.
    const rescued = await rescueSurvivors(group, verdict.survivors, deps);
    if (rescued === 'rescued') {
      return {
        kind: 'refuse',
        code: 'restore-waiting',
        message: `${verdict.reason}: saved in a rescue snapshot; their instances are being replaced, then the restore follows`,
      };
    }
    return { kind: 'refuse', code: 'cluster-down', message: `${verdict.reason}, but no rescue snapshot yet: ${rescued.waiting}` };
  }
  if (verdict.kind !== 'restore') return { kind: 'refuse', code: verdict.code, message: verdict.reason };

  const members = restoreWave(group, deps);
  if (members === undefined) {
    return {
      kind: 'refuse',
      code: 'bootstrap-in-progress',
      message: 'a restore is due; the restore wave of instances is not complete yet',
    };
  }
  if (deps.backups === undefined || backup === undefined) {
    return { kind: 'refuse', code: 'no-backup', message: 'a restore was requested, but no backup bucket is configured' };
  }
  const chosen = await chooseSnapshot(record, request, deps);
  if (chosen.kind === 'refuse') return chosen;
  const { snapshot } = chosen;

  const decided: BootstrapRecord = {
    version: 1,
    token: `${deps.config.clusterName}-${randomUUID()}`,
    members,
    createdAt: new Date().toISOString(),
    lineage: lineageAfter(record),
    restore: {
      bucket: backup.bucket,
      key: snapshot.key,
      sha256: snapshot.manifest.sha256,
      size: snapshot.manifest.size,
      revision: snapshot.manifest.revision,
    },
  };
  await requireNamespace(deps);
  const written = await deps.parameters.createOnly(decisionName, JSON.stringify(decided));
  const winner = written.created ? decided : parseBootstrapRecord(written.value, decisionName);
  if (written.created) {
    const observed = parseObserved(await deps.parameters.get(deps.parameters.observedName()));
    const lost = revisionsLost(snapshot.manifest, observed);
    const ageMs = Date.now() - Date.parse(snapshot.manifest.takenAt);
    deps.telemetry.decision({
      trigger: 'launch',
      instanceId: self.name,
      decision: 'restore',
      reason: `${verdict.reason}: restoring ${snapshot.key} (revision ${snapshot.manifest.revision}, taken ${duration(ageMs)} ago); ${
        lost === undefined
          ? 'the revisions written after it are unknown (no revision of the lost cluster was observed)'
          : `at least ${lost} revisions written after the snapshot are lost`
      }`,
      details: {
        key: snapshot.key,
        revision: snapshot.manifest.revision,
        takenAt: snapshot.manifest.takenAt,
        ageSeconds: Math.round(ageMs / 1000),
        restoreTrigger: verdict.trigger === 'request' ? `request by ${request?.requestedBy ?? 'an operator'}` : 'automatic',
        downForSeconds: Math.round(downForMs / 1000),
        revisionsLost: lost === undefined ? null : lost.toString(),
        observedRevision: observed?.revision ?? null,
        lostToken: record.token,
        token: winner.token,
        members: winner.members.map((m) => m.name),
      },
    });
  }
  return adopt(winner, self, deps);
}

/** Makes the decided restore wave the bootstrap record (idempotent), clears the marks, and plans `self`. */
async function adopt(decided: BootstrapRecord, self: SelfIdentity, deps: LifecycleDeps): Promise<Plan> {
  await requireNamespace(deps);
  await deps.parameters.put(deps.parameters.bootstrapName(), JSON.stringify(decided));
  await deps.parameters.delete(deps.parameters.downSinceName());
  await deps.parameters.delete(deps.parameters.restoreRequestName());
  if (decided.members.some((m) => m.name === self.name)) return planStaticBootstrap(self, decided, deps.config);
  return {
    kind: 'refuse',
    code: 'bootstrap-in-progress',
    message: 'the cluster is being restored by its restore wave; this instance joins once it answers',
  };
}

/** The value of `instances/<id>/restore` for a member of a restore wave; undefined for any other record. */
export function instanceRestoreOf(record: BootstrapRecord, instanceId: string): InstanceRestore | undefined {
  if (record.restore === undefined || !record.members.some((m) => m.name === instanceId)) return undefined;
  return { format: 1, ...record.restore };
}

/** Every instance that held the cluster's data other than `selfName`: instances with parameters, and the record's members. */
async function dataHolders(record: BootstrapRecord, selfName: string, group: GroupView, deps: LifecycleDeps): Promise<DataHolder[]> {
  const ids = new Set([...(await deps.parameters.listInstanceIds()), ...record.members.map((m) => m.name)]);
  ids.delete(selfName);
  return [...ids].map((instanceId) => {
    const instance = group.instances.get(instanceId);
    const gone = instance === undefined || instance.ec2State === 'terminated';
    return { instanceId, lifecycleState: gone ? undefined : instance.lifecycleState };
  });
}

/** The restore wave: live instances with an address, as many as the first wave would have; undefined while too few. */
function restoreWave(group: GroupView, deps: LifecycleDeps): BootstrapRecord['members'] | undefined {
  const { config } = deps;
  const wanted = Math.max(
    1,
    Math.min(config.clusterSize === 'unlimited' ? Infinity : config.clusterSize, group.desiredCapacity ?? Infinity),
  );
  const candidates = liveInstances(group).filter((i) => i.privateIp !== undefined);
  if (!Number.isFinite(wanted) || candidates.length < wanted) return undefined;
  return candidates.slice(0, wanted).map((i) => ({ name: i.instanceId, peerURLs: [peerURL(i.privateIp!, config)] }));
}

/**
 * The snapshot to restore: the requested key only (refused, never replaced, when it does not verify), or the
 * newest candidate of this cluster (or its lineage) that verifies; each one refused is logged with why.
 */
async function chooseSnapshot(
  record: BootstrapRecord,
  request: RestoreRequest | undefined,
  deps: LifecycleDeps,
): Promise<{ kind: 'chosen'; snapshot: StoredSnapshot } | Refusal> {
  const store = deps.backups!;
  const accepted = acceptedClusterIds(record);
  if (accepted === undefined) {
    deps.telemetry.warn(
      'the lost cluster recorded no cluster ID (it formed before IDs were recorded): any snapshot in the bucket is accepted',
      {
        token: record.token,
      },
    );
  }
  const refusal = (snapshot: StoredSnapshot): string | undefined =>
    accepted === undefined || accepted.has(snapshot.manifest.clusterId)
      ? undefined
      : `snapshot ${snapshot.key} belongs to cluster ${snapshot.manifest.clusterId}, not this cluster (${[...accepted].join(', ')})`;

  if (request !== undefined && request.from !== 'latest') {
    const key = request.from;
    try {
      const snapshot = { key, manifest: await store.manifest(key) };
      const foreign = refusal(snapshot);
      if (foreign !== undefined) throw new RestoreRefusedError(foreign);
      await verifyStoredSnapshot(store, snapshot);
      return { kind: 'chosen', snapshot };
    } catch (err) {
      if (!(err instanceof RestoreRefusedError) && !(err instanceof BackupStoreError) && (err as { name?: string }).name !== 'NoSuchKey')
        throw err;
      return {
        kind: 'refuse',
        code: 'no-backup',
        message: `the requested snapshot s3://${store.bucket}/${key} cannot be restored: ${errorMessage(err)}; nothing was changed (name another snapshot, or request 'latest')`,
      };
    }
  }
  const skip = (key: string, reason: string): void => deps.telemetry.warn('snapshot refused for the restore', { key, reason });
  for (const snapshot of await store.candidates({ onSkip: skip })) {
    const foreign = refusal(snapshot);
    if (foreign !== undefined) {
      skip(snapshot.key, foreign);
      continue;
    }
    try {
      await verifyStoredSnapshot(store, snapshot);
      return { kind: 'chosen', snapshot };
    } catch (err) {
      if (!(err instanceof RestoreRefusedError)) throw err;
      skip(snapshot.key, err.message);
    }
  }
  return {
    kind: 'refuse',
    code: 'no-backup',
    message: `a restore is due, but no snapshot of this cluster in s3://${store.bucket}/${store.snapshotsPrefix()} (or the daily tier) verifies: nothing was changed`,
  };
}

function parseObserved(raw: string | undefined): Observed | undefined {
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<Observed>;
    if (typeof value.clusterId === 'string' && typeof value.revision === 'string' && /^[0-9]+$/.test(value.revision)) {
      return { clusterId: value.clusterId, revision: value.revision, at: String(value.at) };
    }
  } catch {
    // an unreadable mark is as good as none: the recovery point is then unknown
  }
  return undefined;
}
