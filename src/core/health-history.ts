// Health over time: since when each member has been unhealthy, and the rules built on it. Pure: the caller
// brings the clock reading and the stored history (kept in etcd by services/health-history).
//
// One missed check is never enough: a member counts as dead only once it has been unreachable, in every
// observation that looked at it, for longer than a threshold. Below it the member is "unknown" (neither
// counted as healthy nor removed); an answer clears its record, so a member that comes back starts again
// from zero (no flapping).
import { compareMemberIds, countHealthy, memberLabel, votersOf } from './members.js';
import { hasQuorum } from './quorum.js';
import type { Health, Member, MemberId } from './types.js';

/** Member ID -> since when (epoch milliseconds) it has been unhealthy without a break. */
export type HealthHistory = ReadonlyMap<MemberId, number>;

export interface HealthView {
  readonly members: readonly Member[];
  readonly health: ReadonlyMap<MemberId, Health>;
}

export interface HistoryChanges {
  /** Members unreachable now with no record yet: record `now` as their start. */
  readonly record: readonly MemberId[];
  /** Records to delete: the member answered, or it is no longer a member. */
  readonly clear: readonly MemberId[];
}

/**
 * How the stored history must change after an observation. `unknown` health (not checked, or given the
 * benefit of the doubt, e.g. a member still booting) leaves a record as it is: neither evidence of life nor
 * of death.
 */
export function historyChanges(view: HealthView, history: HealthHistory): HistoryChanges {
  const ids = new Set(view.members.map((m) => m.id));
  const record = view.members.filter((m) => view.health.get(m.id) === 'unreachable' && !history.has(m.id)).map((m) => m.id);
  const clear = [...history.keys()].filter((id) => !ids.has(id) || view.health.get(id) === 'healthy');
  return { record, clear };
}

/** The history after applying `changes` at `now`. */
export function applyHistoryChanges(history: HealthHistory, changes: HistoryChanges, now: number): Map<MemberId, number> {
  const next = new Map(history);
  for (const id of changes.clear) next.delete(id);
  for (const id of changes.record) next.set(id, now);
  return next;
}

/** How long `id` has been unhealthy at `now` (0 when it has no record). */
export function unhealthyFor(history: HealthHistory, id: MemberId, now: number): number {
  const since = history.get(id);
  return since === undefined ? 0 : Math.max(0, now - since);
}

/**
 * The health the planner should see: an unreachable member counts as unreachable (dead) only once it has been
 * unhealthy for at least `unhealthyAfterMs`; before that it is `unknown`, so no join removes it yet.
 * Also returns the members held back that way, for a caller that waits for them to pass the threshold.
 */
export function healthPastThreshold(
  view: HealthView,
  history: HealthHistory,
  now: number,
  unhealthyAfterMs: number,
): { health: Map<MemberId, Health>; suspects: Member[] } {
  const health = new Map(view.health);
  const suspects: Member[] = [];
  for (const m of view.members) {
    if (view.health.get(m.id) !== 'unreachable') continue;
    if (unhealthyFor(history, m.id, now) >= unhealthyAfterMs) continue;
    health.set(m.id, 'unknown');
    suspects.push(m);
  }
  return { health, suspects };
}

/** What the heal rule decided about one unhealthy member. */
export interface HealDecision {
  readonly member: Member;
  readonly unhealthyForMs: number;
  /** report: tell the group its instance is unhealthy; wait: not yet or not now; skip: never through the group. */
  readonly action: 'report' | 'wait' | 'skip';
  readonly reason: string;
  /** The instance to report (action report), when known. */
  readonly instanceId?: string;
}

export interface HealInput extends HealthView {
  readonly history: HealthHistory;
  readonly now: number;
  readonly unhealthyAfterMs: number;
  /** The InService instance behind a member, if any (by name or address). */
  readonly instanceOf: (member: Member) => string | undefined;
  /**
   * Why no replacement may start now (another one is under way: an instance launching or terminating, a
   * learner or an unstarted member besides the candidate), or undefined when the group is at rest.
   */
  readonly busy?: string;
  /**
   * InService instances that were admitted (they have their configuration) but have no member any more: a
   * join removed their long-unhealthy member to get past it. Replaced like an unhealthy member, one at a time.
   */
  readonly memberless?: readonly string[];
}

/** The decision about an instance without a member (see HealInput.memberless). */
export interface MemberlessDecision {
  readonly instanceId: string;
  readonly action: 'report' | 'wait';
  readonly reason: string;
}

/**
 * Which unhealthy member, if any, to report to the group so it replaces the instance through its hooks. At
 * most one per pass; never when the cluster has no healthy quorum; never when replacing the member would
 * leave the remaining healthy voters below the quorum of the voters left (the terminate hook's own rule);
 * never while another replacement is under way. Every unhealthy member gets a decision with its reason.
 */
export function planHeal(input: HealInput): HealDecision[] {
  const { members, health, history, now, unhealthyAfterMs } = input;
  const voters = votersOf(members);
  const healthyVoters = countHealthy(voters, health);
  const quorate = hasQuorum(voters.length, healthyVoters);
  const unhealthy = members
    .filter((m) => health.get(m.id) !== 'healthy' && history.has(m.id))
    .map((m) => ({ member: m, forMs: unhealthyFor(history, m.id, now) }))
    // Longest unhealthy first, then learners (they cost no vote), then by ID: deterministic.
    .sort(
      (a, b) => b.forMs - a.forMs || Number(b.member.isLearner) - Number(a.member.isLearner) || compareMemberIds(a.member.id, b.member.id),
    );
  const decisions: HealDecision[] = [];
  let chosen = false;
  for (const { member, forMs } of unhealthy) {
    const base = { member, unhealthyForMs: forMs };
    const what = memberLabel(member);
    if (forMs < unhealthyAfterMs) {
      decisions.push({
        ...base,
        action: 'wait',
        reason: `${what} has been unhealthy for ${seconds(forMs)}, less than the threshold of ${seconds(unhealthyAfterMs)}`,
      });
      continue;
    }
    const instanceId = input.instanceOf(member);
    if (instanceId === undefined) {
      decisions.push({
        ...base,
        action: 'skip',
        reason: `${what} is past the threshold but no in-service instance of the group runs it; a join or prune removes it`,
      });
      continue;
    }
    if (!quorate) {
      decisions.push({
        ...base,
        action: 'wait',
        reason: `${what} is past the threshold, but only ${healthyVoters} of ${voters.length} voters are healthy, no quorum: nothing is replaced until the cluster has one`,
      });
      continue;
    }
    // The terminate hook's own rule, stated here too. Equivalent to `quorate` as long as the member is not
    // healthy (it is not: see the filter above): q(V-1) <= q(V) with the same healthy voters.
    // Stryker disable next-line all: equivalent, as just said
    const votersAfter = voters.filter((m) => m.id !== member.id);
    const healthyAfter = countHealthy(votersAfter, health);
    // Stryker disable next-line all: equivalent, as just said
    if (!hasQuorum(votersAfter.length, healthyAfter)) {
      decisions.push({
        ...base,
        action: 'wait',
        reason: `replacing ${what} would leave ${healthyAfter} healthy of ${votersAfter.length} voters, below their quorum`,
      });
      continue;
    }
    if (chosen) {
      decisions.push({
        ...base,
        action: 'wait',
        reason: `${what} is past the threshold, but another unhealthy member is being replaced first; one at a time`,
      });
      continue;
    }
    if (input.busy !== undefined) {
      decisions.push({
        ...base,
        action: 'wait',
        reason: `${what} is past the threshold, but a replacement is already under way (${input.busy}); one at a time`,
      });
      continue;
    }
    chosen = true;
    decisions.push({
      ...base,
      action: 'report',
      instanceId,
      reason: `${what} has been unhealthy for ${seconds(forMs)}, past the threshold of ${seconds(unhealthyAfterMs)}: its instance ${instanceId} is reported unhealthy to the group`,
    });
  }
  return decisions;
}

/**
 * Instances without a member (HealInput.memberless): at most one is reported, and only when no unhealthy
 * member is, the cluster has a quorum and the group is at rest.
 */
export function planMemberless(input: HealInput, memberDecisions: readonly HealDecision[]): MemberlessDecision[] {
  const { members, health } = input;
  const voters = votersOf(members);
  const healthyVoters = countHealthy(voters, health);
  const quorate = hasQuorum(voters.length, healthyVoters);
  let chosen = memberDecisions.some((d) => d.action === 'report');
  return (input.memberless ?? []).map((instanceId): MemberlessDecision => {
    const what = `instance ${instanceId} runs no member (a join removed it after it stayed unhealthy)`;
    if (!quorate) return { instanceId, action: 'wait', reason: `${what}, but the cluster has no quorum` };
    if (chosen) return { instanceId, action: 'wait', reason: `${what}; another instance is being replaced first, one at a time` };
    if (input.busy !== undefined)
      return { instanceId, action: 'wait', reason: `${what}; a replacement is already under way (${input.busy})` };
    chosen = true;
    return { instanceId, action: 'report', reason: `${what}: it is reported unhealthy to the group` };
  });
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
