// etcd's upkeep as a pure decision: from each member's status (database size, size in use, leader), the cluster's
// alarms and whether a compaction already covers the current revision, decide at most ONE action for this reconcile
// pass, or why none is taken. No I/O here; src/lambda/upkeep.ts observes, acts and logs the decision. A compaction is
// the one action that may be followed by another in the same pass: the caller then asks again with `compacted`, since
// a compaction blocks no member (and under NOSPACE, deletes move the revision, so it could otherwise recur forever).
//
// - Defragmentation rewrites a member's database and blocks that member meanwhile: one member per pass, followers
//   before the leader (the leader only when it alone needs it), and never a voter while the quorum margin is zero.
// - With a NOSPACE alarm the cluster is read-only. The way out is etcd's own: compact (old revisions become free
//   space), defragment (free space goes back to the file system), then disarm. etcd raises NOSPACE again as soon as a
//   member's database (its file, not only the part in use) exceeds the quota, so the alarm is disarmed only once
//   every member's database is below the quota by a margin.
import { isUnstarted } from './members.js';
import { quorumOf } from './quorum.js';
import type { ActiveAlarm } from './status.js';
import type { Member, MemberId } from './types.js';

/** What upkeep needs of one member's status answer; the adapter's MaintenanceStatus fits. */
export interface UpkeepStatus {
  /** The database file's size. */
  readonly dbSize: bigint;
  /** The part of dbSize in use (etcd 3.4+); the rest is free space only a defragmentation returns. */
  readonly dbSizeInUse?: bigint;
  /** The leader this member knows; 0n when it knows none. */
  readonly leader: bigint;
}

/** The thresholds (CLUSTER_DEFAULTS has each default). */
export interface UpkeepSettings {
  readonly quotaBackendBytes: number;
  /** Defragment when free space is at least this fraction of dbSize... */
  readonly defragFreeFraction: number;
  /** ...and at least this many bytes. */
  readonly defragMinFreeBytes: number;
  /** Disarm NOSPACE once every member's dbSize is below this fraction of the quota. */
  readonly nospaceDisarmBelowFraction: number;
}

export interface UpkeepObservation {
  readonly members: readonly Member[];
  /** Status answers per member ID; a member without one did not answer (or was not asked: not started). */
  readonly statuses: ReadonlyMap<MemberId, UpkeepStatus>;
  readonly alarms: readonly ActiveAlarm[];
  /** True when etcd said the current revision is compacted already (a compaction earlier, or in this pass). */
  readonly compacted: boolean;
}

export type UpkeepRefusal = 'corrupt' | 'quorum-margin-zero' | 'member-unknown' | 'no-room';

export type UpkeepDecision =
  | { readonly action: 'none'; readonly reason: string }
  /** Compact to the current revision (the caller reads it when it compacts: it moves while anyone writes). */
  | { readonly action: 'compact'; readonly reason: string }
  | { readonly action: 'defragment'; readonly member: Member; readonly freeBytes: bigint; readonly reason: string }
  | { readonly action: 'disarm'; readonly alarms: readonly ActiveAlarm[]; readonly reason: string }
  | { readonly action: 'refuse'; readonly code: UpkeepRefusal; readonly reason: string };

/** Under NOSPACE, a member over the disarm bound is defragmented when at least this fraction of the quota is free. */
export const NOSPACE_DEFRAG_MIN_FREE_FRACTION = 0.01;

interface Answered {
  readonly member: Member;
  readonly status: UpkeepStatus;
  readonly free: bigint;
  readonly leader: boolean;
}

/**
 * decideUpkeep picks at most one upkeep action for this pass: compaction, one member's defragmentation or the
 * NOSPACE disarm, or `none` / `refuse` with the reason. Pure and deterministic.
 *
 * Rules: a CORRUPT alarm stops all upkeep (an operator must look first). Under NOSPACE: compact first (unless
 * `compacted`), then defragment members whose database is over the disarm bound and has free space to return,
 * then disarm once every started member answered and is under the bound. Otherwise: defragment one member whose free
 * space passes both thresholds. The member to defragment is a follower (most free space first) before the leader;
 * while the quorum margin (healthy voters beyond the quorum) is zero only a learner may be defragmented.
 */
export function decideUpkeep(observation: UpkeepObservation, settings: UpkeepSettings): UpkeepDecision {
  if (observation.alarms.some((a) => a.alarm === 'CORRUPT')) {
    return { action: 'refuse', code: 'corrupt', reason: 'a CORRUPT alarm is active: no upkeep until an operator has looked' };
  }
  const answered = answeredMembers(observation);
  const margin = quorumMargin(observation);
  const nospace = observation.alarms.filter((a) => a.alarm === 'NOSPACE');
  if (nospace.length > 0) return decideNospace(observation, answered, margin, nospace, settings);

  const wanted = answered.filter(
    (a) => a.free >= BigInt(settings.defragMinFreeBytes) && Number(a.free) >= settings.defragFreeFraction * Number(a.status.dbSize),
  );
  if (wanted.length === 0) return { action: 'none', reason: 'no member has enough free space to be worth a defragmentation' };
  return defragmentOne(wanted, margin, 'its free space passed the threshold');
}

function decideNospace(
  observation: UpkeepObservation,
  answered: readonly Answered[],
  margin: number,
  nospace: readonly ActiveAlarm[],
  settings: UpkeepSettings,
): UpkeepDecision {
  if (!observation.compacted) return { action: 'compact', reason: 'NOSPACE is active: compact to the current revision first' };
  const bound = BigInt(Math.floor(settings.quotaBackendBytes * settings.nospaceDisarmBelowFraction));
  const over = answered.filter((a) => a.status.dbSize >= bound);
  if (over.length === 0) {
    const unknown = observation.members.filter((m) => !isUnstarted(m) && !observation.statuses.has(m.id));
    if (unknown.length > 0) {
      return {
        action: 'refuse',
        code: 'member-unknown',
        reason: `NOSPACE stays armed: ${unknown.map((m) => m.name).join(', ')} did not answer, its database may still be too large`,
      };
    }
    return {
      action: 'disarm',
      alarms: nospace,
      reason: `NOSPACE can be disarmed: every member's database is below ${bound} bytes (${settings.nospaceDisarmBelowFraction} of the quota)`,
    };
  }
  // Defragment where there is free space to return. Not "enough to get under the bound": etcd 3.4 updates
  // dbSizeInUse only when a later write commits, which NOSPACE refuses, so after a compaction it still shows the
  // old figure; a defragmentation measures afresh, and one that freed too little leaves less than this to try again.
  const minFree = BigInt(Math.ceil(settings.quotaBackendBytes * NOSPACE_DEFRAG_MIN_FREE_FRACTION));
  const helped = over.filter((a) => a.free >= minFree);
  if (helped.length === 0) {
    return {
      action: 'refuse',
      code: 'no-room',
      reason: `NOSPACE stays armed: the databases of ${over.map((a) => a.member.name).join(', ')} are ${bound} bytes or more with no free space left after compaction; raise the quota or delete keys`,
    };
  }
  return defragmentOne(helped, margin, 'NOSPACE is active and its database is over the disarm bound with free space to return');
}

/** One member to defragment: followers (most free space first, then by ID) before the leader; learners only at margin zero. */
function defragmentOne(wanted: readonly Answered[], margin: number, why: string): UpkeepDecision {
  const allowed = margin > 0 ? wanted : wanted.filter((a) => a.member.isLearner);
  if (allowed.length === 0) {
    return {
      action: 'refuse',
      code: 'quorum-margin-zero',
      reason: `${wanted.map((a) => a.member.name).join(', ')} should be defragmented, but the quorum margin is zero: a blocked voter would cost the quorum`,
    };
  }
  const [chosen] = [...allowed].sort(defragmentOrder);
  const pick = chosen!;
  return {
    action: 'defragment',
    member: pick.member,
    freeBytes: pick.free,
    reason: `defragment ${pick.member.name} (${pick.leader ? 'the leader, the only one left' : pick.member.isLearner ? 'a learner' : 'a follower'}): ${why}`,
  };
}

/** Followers before the leader, then the most free space first, then the lower member ID. */
function defragmentOrder(a: Answered, b: Answered): number {
  const byFree = b.free > a.free ? 1 : b.free < a.free ? -1 : 0;
  // Stryker disable next-line EqualityOperator: member IDs are unique, so `<` and `<=` never differ here
  return Number(a.leader) - Number(b.leader) || byFree || (a.member.id < b.member.id ? -1 : 1);
}

function answeredMembers(observation: UpkeepObservation): Answered[] {
  return observation.members.flatMap((member) => {
    const status = observation.statuses.get(member.id);
    if (status === undefined || isUnstarted(member)) return [];
    // An in-use figure above dbSize gives a negative free space, which no threshold passes.
    const free = status.dbSizeInUse === undefined ? 0n : status.dbSize - status.dbSizeInUse;
    return [{ member, status, free, leader: status.leader === member.id }];
  });
}

/**
 * How many more voters may stop answering before the quorum is lost: voters that answered and know a leader, less
 * the quorum. Negative when the quorum is lost already.
 */
export function quorumMargin(observation: Pick<UpkeepObservation, 'members' | 'statuses'>): number {
  const voters = observation.members.filter((m) => !m.isLearner);
  const healthy = voters.filter((m) => {
    const status = observation.statuses.get(m.id);
    return status !== undefined && status.leader !== 0n;
  });
  return healthy.length - quorumOf(voters.length);
}
