// The rescue snapshot: when a cluster lost its majority but some members survive (running, without quorum),
// their data may be newer than the last backup. Before those members are given up, the most advanced one is
// snapshotted into the backup store (same layout and manifest as every backup), so that the restore that
// follows starts from everything the cluster still had. A member without quorum answers Status and Snapshot
// from its own data on etcd 3.4 and 3.5; no health is required of it, only that every survivor answers.
import { randomBytes } from 'node:crypto';
import type { BackupStore, StoredSnapshot } from '../adapters/aws/backups.js';
import type { EtcdClient, MemberList } from '../adapters/etcd/index.js';
import { errorMessage } from '../core/errors.js';
import { memberIdToHex } from '../core/ids.js';
import { chooseRescueSource, rescueShortfall, snapshotCovers, type RescueRefusal, type SurvivorStatus } from '../core/rescue.js';
import { clientFor, type EtcdConnection } from './connection.js';
import type { Logger } from './log.js';
import { digested, SnapshotError } from './snapshot.js';

export type { RescueRefusal } from '../core/rescue.js';

export interface RescueOptions {
  /** Client URLs of every surviving member that could hold data (each must answer). */
  readonly endpoints: readonly string[];
  readonly connection: EtcdConnection;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Bound for the snapshot stream to start and for each pause in it (default 15 s). */
  readonly idleTimeoutMs?: number;
  /** The time the new snapshot's key is stamped with (default: now). */
  readonly now?: Date;
}

/** The survivor whose data is the rescue. */
export interface RescuedMember {
  readonly endpoint: string;
  /** Hex, as in the manifest. */
  readonly id: string;
  readonly name: string;
}

export type RescueOutcome =
  /** A new snapshot of `member` was stored and verified. */
  | ({ readonly kind: 'stored' } & RescueFacts)
  /** No new snapshot: `snapshot`, already stored, is of a later revision than every survivor's. */
  | ({ readonly kind: 'covered' } & RescueFacts)
  | { readonly kind: 'refused'; readonly reason: RescueRefusal; readonly detail: string };

export interface RescueFacts {
  readonly member: RescuedMember;
  /** The member's committed raft index (Status.raftIndex). */
  readonly raftIndex: bigint;
  readonly raftAppliedIndex: bigint;
  /** The member's store revision. */
  readonly revision: bigint;
  /** The snapshot that holds every survivor's data: key and verified manifest. */
  readonly snapshot: StoredSnapshot;
}

/**
 * Stores a snapshot of the most advanced survivor (highest applied raft index, then revision) and verifies it:
 * the manifest is written only after the stream passed etcd's checksum, is read back, and must name that member
 * at or above every survivor's revision; then every survivor is read again and must still know no leader and no
 * later revision. Refused, storing nothing, when no survivor is named, any survivor does not answer (a silent one
 * may hold more), any knows a leader, they answer for different clusters, or the chosen one has not applied
 * every committed entry yet. When the newest stored snapshot is of the same cluster at a later revision than
 * every survivor's, nothing new is stored ('covered'): a rescue run again after some survivors were replaced
 * never stores a snapshot older than one already taken. Running it twice at the same revision stores a second,
 * equal snapshot, which is harmless. A refusal after the store (the snapshot falls short, or a survivor changed
 * meanwhile) leaves that snapshot, a valid one of that member. Throws (SnapshotError, BackupStoreError,
 * EtcdError) when the snapshot cannot be taken or stored; nothing is then taken for a good snapshot.
 */
export async function rescueSnapshot(store: BackupStore, options: RescueOptions): Promise<RescueOutcome> {
  const { log } = options;
  const endpoints = [...new Set(options.endpoints)];
  if (endpoints.length === 0) return refuse(log, 'no-survivors', 'no surviving member was named');
  const client = clientFor(endpoints, options.connection);
  try {
    const read = await readSurvivors(client, endpoints, options);
    if (read.kind === 'refused') return refuse(log, read.reason, read.detail);
    const choice = chooseRescueSource(read.statuses);
    if (choice.kind === 'refused') return refuse(log, choice.reason, choice.detail);
    const { source } = choice;
    const facts = {
      raftIndex: source.raftIndex,
      raftAppliedIndex: source.raftAppliedIndex,
      revision: source.revision,
    };
    log.info('rescue: the most advanced survivor', {
      endpoint: source.endpoint,
      memberId: memberIdToHex(source.memberId),
      raftIndex: source.raftIndex.toString(),
      raftAppliedIndex: source.raftAppliedIndex.toString(),
      revision: source.revision.toString(),
      highestRevision: choice.highestRevision.toString(),
      survivors: read.statuses.length,
    });

    let list: MemberList;
    try {
      list = await client.memberListAt(source.endpoint, {
        timeoutMs: options.connection.healthTimeoutMs,
        ...(options.signal !== undefined && { signal: options.signal }),
      });
    } catch (err) {
      return refuse(log, 'survivor-silent', `the member at ${source.endpoint} did not answer its member list: ${errorMessage(err)}`);
    }
    const name = list.members.find((m) => m.id === source.memberId)?.name ?? '';
    const member: RescuedMember = { endpoint: source.endpoint, id: memberIdToHex(source.memberId), name };

    const latest = await store.latest();
    if (latest !== undefined && snapshotCovers(latest.manifest, choice)) {
      log.info('rescue: a stored snapshot already holds every survivor', {
        key: latest.key,
        revision: latest.manifest.revision,
        highestRevision: choice.highestRevision.toString(),
      });
      return { kind: 'covered', member, ...facts, snapshot: latest };
    }

    log.info('rescue: taking a snapshot', { endpoint: source.endpoint, member: name, memberId: member.id });
    const key = store.newKey(options.now ?? new Date(), `rescue-${randomBytes(4).toString('hex')}`);
    const stored = await storeSnapshotOf(store, key, client, source, list, options);

    // What was stored is what the restore will start from: it must hold every survivor's data.
    const readBack = await store.manifest(key);
    const shortfall =
      readBack.sha256 !== stored.manifest.sha256
        ? 'the manifest read back differs from the one written'
        : rescueShortfall(readBack, choice);
    if (shortfall !== undefined) return refuse(log, 'not-covered', shortfall, { key });
    const again = await readSurvivors(client, endpoints, options);
    if (again.kind === 'refused') return refuse(log, again.reason, again.detail, { key });
    const after = chooseRescueSource(again.statuses);
    if (after.kind === 'refused') return refuse(log, after.reason, after.detail, { key });
    if (after.highestRevision > BigInt(readBack.revision))
      return refuse(log, 'not-covered', `a survivor moved to revision ${after.highestRevision} while the snapshot was taken`, { key });

    log.info('rescue snapshot stored', {
      key,
      bucket: store.bucket,
      member: name,
      memberId: member.id,
      revision: readBack.revision,
      raftIndex: source.raftIndex.toString(),
      sha256: readBack.sha256,
      size: readBack.size,
    });
    return { kind: 'stored', member, ...facts, snapshot: { key, manifest: readBack } };
  } finally {
    client.close();
  }
}

/** A survivor's status, and the etcd version it runs (for the manifest). */
type Survivor = SurvivorStatus & { readonly version: string };

type SurvivorRead =
  | { readonly kind: 'read'; readonly statuses: Survivor[] }
  | { readonly kind: 'refused'; readonly reason: 'survivor-silent'; readonly detail: string };

/** Every survivor's Status, in parallel, each bounded by the health timeout; refused when any does not answer. */
async function readSurvivors(client: EtcdClient, endpoints: readonly string[], options: RescueOptions): Promise<SurvivorRead> {
  const answers = await Promise.all(
    endpoints.map(async (endpoint) => {
      try {
        const s = await client.statusAt(endpoint, {
          timeoutMs: options.connection.healthTimeoutMs,
          ...(options.signal !== undefined && { signal: options.signal }),
        });
        const status: Survivor = {
          endpoint,
          memberId: s.memberId,
          clusterId: s.clusterId,
          leader: s.leader,
          raftIndex: s.raftIndex,
          raftAppliedIndex: s.raftAppliedIndex,
          revision: s.revision ?? 0n,
          version: s.version,
        };
        return { endpoint, status };
      } catch (err) {
        return { endpoint, error: errorMessage(err) };
      }
    }),
  );
  const silent = answers.filter((a) => a.status === undefined);
  if (silent.length > 0)
    return {
      kind: 'refused',
      reason: 'survivor-silent',
      detail: `${silent.length} of ${endpoints.length} survivor(s) did not answer (${silent.map((a) => `${a.endpoint}: ${a.error ?? ''}`).join('; ')}): one of them may hold more`,
    };
  return { kind: 'read', statuses: answers.map((a) => a.status!) };
}

/**
 * Streams the snapshot of exactly `source` into the store under `key`, checked against etcd's own trailer on the
 * way; the manifest is written only after that check passed (BackupStore.put).
 */
async function storeSnapshotOf(
  store: BackupStore,
  key: string,
  client: EtcdClient,
  source: Survivor,
  list: MemberList,
  options: RescueOptions,
): Promise<StoredSnapshot> {
  const stream = await client.snapshotAt(source.endpoint, {
    ...(options.idleTimeoutMs !== undefined && { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.signal !== undefined && { signal: options.signal }),
  });
  const header = await stream.header;
  const wrong =
    header.clusterId !== 0n && header.clusterId !== source.clusterId
      ? `cluster ${memberIdToHex(header.clusterId)}`
      : header.memberId !== 0n && header.memberId !== source.memberId
        ? `member ${memberIdToHex(header.memberId)}`
        : undefined;
  if (wrong !== undefined) {
    stream.bytes.destroy();
    throw new SnapshotError(`the snapshot from ${source.endpoint} came from ${wrong}, not the survivor chosen`);
  }
  const { bytes, manifest } = digested(stream.bytes, (r) => ({
    format: 1,
    sha256: r.sha256,
    size: r.size,
    revision: (header.revision > source.revision ? header.revision : source.revision).toString(),
    clusterId: memberIdToHex(source.clusterId),
    memberId: memberIdToHex(source.memberId),
    memberCount: list.members.length,
    etcdVersion: source.version,
    takenAt: new Date().toISOString(),
  }));
  return store.put(key, bytes, manifest);
}

function refuse(
  log: Logger,
  reason: RescueRefusal,
  detail: string,
  fields: Record<string, unknown> = {},
): { readonly kind: 'refused'; readonly reason: RescueRefusal; readonly detail: string } {
  log.warn('rescue refused', { reason, detail, ...fields });
  return { kind: 'refused', reason, detail };
}
