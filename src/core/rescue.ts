// The rescue rule, pure: which surviving member of a cluster that lost its majority holds the most data, and
// whether a stored snapshot already holds everything the survivors hold. The service (src/services/rescue.ts)
// reads the survivors' Maintenance.Status and stores the snapshot; the Lambda (src/lambda/rescue.ts) reports the
// survivors to the group only after that.
//
// A member without quorum still serves Status and Snapshot from its own data (etcd 3.4 and 3.5 answer both
// locally; Status then reports no leader and the error "etcdserver: no leader"). Its applied state is a prefix
// of the cluster's committed history, so of two members of one cluster, the one that applied more entries holds
// everything the other holds.
import { memberIdToHex } from './ids.js';
import type { MemberId } from './types.js';

/** What one survivor answered to Maintenance.Status. */
export interface SurvivorStatus {
  readonly endpoint: string;
  readonly memberId: MemberId;
  readonly clusterId: bigint;
  /** 0n when it knows no leader. */
  readonly leader: bigint;
  /** Status.raftIndex: the committed index (etcd 3.4 to 3.6). */
  readonly raftIndex: bigint;
  /** Status.raftAppliedIndex: how far its data (what a snapshot holds) has applied the log. */
  readonly raftAppliedIndex: bigint;
  /** The store revision in the answer's header. */
  readonly revision: bigint;
}

export type RescueRefusal =
  /** No survivor was named: nothing to rescue. */
  | 'no-survivors'
  /** A survivor did not answer: it may hold more than the others, so no rescue yet. */
  | 'survivor-silent'
  /** A survivor knows a leader: the cluster has quorum, it is not lost. */
  | 'has-leader'
  /** The survivors answer for different clusters. */
  | 'mixed-clusters'
  /** The most advanced survivor has not applied every entry some survivor knows is committed yet. */
  | 'still-applying'
  /** What was stored does not hold every survivor's data, or the survivors changed while it was taken. */
  | 'not-covered';

export type RescueChoice<S extends SurvivorStatus = SurvivorStatus> =
  | { readonly kind: 'chosen'; readonly source: S; readonly clusterId: bigint; readonly highestRevision: bigint }
  | { readonly kind: 'refused'; readonly reason: RescueRefusal; readonly detail: string };

/**
 * The survivor to snapshot: the highest applied index, then the highest revision (then the first endpoint, so the
 * choice is the same every time). It must have applied every entry any survivor knows is committed (a committed
 * index above its applied one is data still on its way into the snapshot). Refused when there is none, when
 * any survivor knows a leader, when they answer for different clusters, or when the chosen one still has
 * committed entries to apply. Every survivor must have answered: the caller refuses before this otherwise.
 */
export function chooseRescueSource<S extends SurvivorStatus>(survivors: readonly S[]): RescueChoice<S> {
  if (survivors.length === 0) return { kind: 'refused', reason: 'no-survivors', detail: 'no surviving member was named' };
  const led = survivors.find((s) => s.leader !== 0n);
  if (led !== undefined)
    return {
      kind: 'refused',
      reason: 'has-leader',
      detail: `the member at ${led.endpoint} knows leader ${memberIdToHex(led.leader)}: the cluster has quorum`,
    };
  const clusters = new Set(survivors.map((s) => s.clusterId));
  if (clusters.size > 1)
    return {
      kind: 'refused',
      reason: 'mixed-clusters',
      detail: `the survivors answer for ${clusters.size} clusters (${[...clusters].map(memberIdToHex).join(', ')})`,
    };
  const source = [...survivors].sort(moreAdvancedFirst)[0]!;
  const committed = max(survivors.map((s) => s.raftIndex));
  if (source.raftAppliedIndex < committed)
    return {
      kind: 'refused',
      reason: 'still-applying',
      detail: `the most advanced survivor (${source.endpoint}) applied up to ${source.raftAppliedIndex} of ${committed} committed entries`,
    };
  return { kind: 'chosen', source, clusterId: source.clusterId, highestRevision: max(survivors.map((s) => s.revision)) };
}

/**
 * Whether a stored snapshot holds every survivor's data without a new one: the same cluster and a revision
 * strictly above every survivor's (a later revision is a later point of the one history every member applies).
 * Then a rescue must NOT store a snapshot of the survivors: it would be the newest one yet older in revision, and
 * the restore takes the newest (a survivor that lagged behind the lost majority; or a second run after the most
 * advanced survivor was rescued and replaced). At an equal revision a new snapshot is taken: it is harmless, and
 * the stored one may lack a change that does not move the revision (a lease, a user).
 */
export function snapshotCovers(
  snapshot: { readonly clusterId: string; readonly revision: string } | undefined,
  chosen: { readonly clusterId: bigint; readonly highestRevision: bigint },
): boolean {
  return (
    snapshot !== undefined && snapshot.clusterId === memberIdToHex(chosen.clusterId) && BigInt(snapshot.revision) > chosen.highestRevision
  );
}

/**
 * Whether a snapshot stored for this rescue holds every survivor's data: the same cluster, the chosen member,
 * and a revision at or above every survivor's. Undefined when it does; otherwise why not.
 */
export function rescueShortfall(
  stored: { readonly clusterId: string; readonly memberId: string; readonly revision: string },
  chosen: { readonly source: SurvivorStatus; readonly clusterId: bigint; readonly highestRevision: bigint },
): string | undefined {
  if (stored.clusterId !== memberIdToHex(chosen.clusterId))
    return `the snapshot is of cluster ${stored.clusterId}, not ${memberIdToHex(chosen.clusterId)}`;
  if (stored.memberId !== memberIdToHex(chosen.source.memberId))
    return `the snapshot is of member ${stored.memberId}, not ${memberIdToHex(chosen.source.memberId)}`;
  if (BigInt(stored.revision) < chosen.highestRevision)
    return `the snapshot is at revision ${stored.revision}, below a survivor's ${chosen.highestRevision}`;
  return undefined;
}

function moreAdvancedFirst(a: SurvivorStatus, b: SurvivorStatus): number {
  return (
    compareDesc(a.raftAppliedIndex, b.raftAppliedIndex) ||
    compareDesc(a.revision, b.revision) ||
    // Stryker disable next-line EqualityOperator: `<=`/`>=` differ only for equal endpoints, and each survivor has its own
    (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0)
  );
}

function compareDesc(a: bigint, b: bigint): number {
  return a > b ? -1 : a < b ? 1 : 0;
}

function max(values: readonly bigint[]): bigint {
  // Stryker disable next-line EqualityOperator: `>=` keeps an equal value instead, the same maximum
  return values.reduce((m, v) => (v > m ? v : m), 0n);
}
