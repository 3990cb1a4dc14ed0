// Quorum-guarded plans for single membership changes outside a join: removing a member whose machine is
// going away (terminate hook, reconcile) and promoting a learner. Pure, like the planner.
import { countHealthy, memberLabel, votersOf } from './members.js';
import { quorumCheck } from './quorum.js';
import type { ClusterSize, Health, Member, MemberId, QuorumCheck } from './types.js';

export interface MembershipView {
  readonly members: readonly Member[];
  readonly health: ReadonlyMap<MemberId, Health>;
}

export type RemovalDecision =
  | { readonly kind: 'remove'; readonly member: Member; readonly check: QuorumCheck }
  | { readonly kind: 'absent'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly member: Member; readonly reason: string; readonly check: QuorumCheck };

export interface RemovalOptions {
  /** The cluster size the group aims for; a cluster meant to have one member may shrink to one voter. */
  readonly targetSize?: ClusterSize;
}

/**
 * May `target` be removed? Only if the voters left still have a healthy quorum without it. Removing a member
 * that is already gone is a no-op, so a duplicate terminate event does no harm.
 *
 * A healthy voter is also held (refused) while removing it would strand the cluster, even with a quorum left:
 * - while a learner is pending: the learner is promoted only if the voters left could survive losing it,
 *   so it must become a voter first (a rolling update's replacement, still a learner when the next voter goes);
 * - while it would leave a single voter of a cluster meant to be larger: etcd grows one learner at a time,
 *   and neither a join nor a promotion into a one-voter cluster is ever safe (see planPromotion).
 * A dead or unhealthy voter, or a learner, is never held by these rules: it no longer helps anyone.
 */
export function planRemoval(view: MembershipView, target: (m: Member) => boolean, options: RemovalOptions = {}): RemovalDecision {
  const member = view.members.find(target);
  if (member === undefined) return { kind: 'absent', reason: 'no such member: nothing to remove' };
  const isHealthy = (m: Member): boolean => view.health.get(m.id) === 'healthy';
  const votersAfter = votersOf(view.members).filter((m) => m.id !== member.id);
  const healthyAfter = countHealthy(votersAfter, view.health);
  const check = quorumCheck(`remove ${memberLabel(member)}`, votersAfter.length, healthyAfter);
  if (!check.ok) {
    const reason =
      votersAfter.length === 0
        ? `${memberLabel(member)} is the last voting member; removing it would destroy the cluster`
        : `removing ${memberLabel(member)} would leave ${healthyAfter} healthy of ${votersAfter.length} voting members, below the quorum of ${check.quorum}`;
    return { kind: 'refuse', member, reason, check };
  }
  if (!member.isLearner && isHealthy(member)) {
    const learner = view.members.find((m) => m.isLearner); // `member` is a voter, never this learner
    if (learner !== undefined) {
      const reason = `${memberLabel(member)} is a healthy voter and learner ${memberLabel(learner)} is not promoted yet; removing it first could leave the learner unpromotable, so it waits until the learner is a voter or gone`;
      return { kind: 'refuse', member, reason, check: { ...check, ok: false } };
    }
    if (votersAfter.length === 1 && options.targetSize !== 1) {
      const reason = `removing healthy voter ${memberLabel(member)} would leave a single voter, and a one-voter cluster can never safely grow again; it waits until a replacement is a voter`;
      return { kind: 'refuse', member, reason, check: { ...check, ok: false } };
    }
  }
  return { kind: 'remove', member, check };
}

export type PromotionDecision =
  | { readonly kind: 'promote'; readonly member: Member; readonly check: QuorumCheck }
  | { readonly kind: 'not-learner'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly member: Member; readonly reason: string; readonly check: QuorumCheck };

/**
 * May learner `id` become a voter? The existing healthy voters must still be a quorum of the larger voter set
 * should the new voter fail right after (the planner's promotion rule, applied at promotion time).
 */
export function planPromotion(view: MembershipView, id: MemberId): PromotionDecision {
  const member = view.members.find((m) => m.id === id);
  if (member === undefined) return { kind: 'not-learner', reason: 'no such member' };
  if (!member.isLearner) return { kind: 'not-learner', reason: `${memberLabel(member)} is already a voting member` };
  const voters = votersOf(view.members);
  const healthy = countHealthy(voters, view.health);
  const check = quorumCheck(`promote ${memberLabel(member)}`, voters.length + 1, healthy);
  if (!check.ok) {
    return {
      kind: 'refuse',
      member,
      reason: `promoting ${memberLabel(member)} would need ${check.quorum} healthy voters should it fail, only ${healthy} are healthy`,
      check,
    };
  }
  return { kind: 'promote', member, check };
}
