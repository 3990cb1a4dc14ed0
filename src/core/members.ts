// The membership vocabulary: one name for each idea about members that more than one module needs, as etcd
// names them once (Member.IsStarted, RaftCluster.VotingMembers). Pure: no I/O.
import { memberIdToHex } from './ids.js';
import type { Health, Member, MemberId, PlatformKnowledge } from './types.js';
import { canonicalURL, sameURLSet, urlsOverlap } from './urls.js';

/**
 * isUnstarted reports whether `member` was added but has never started: etcd learns a member's name only when
 * the member first publishes it, so until then the name is empty.
 */
export function isUnstarted(member: Member): boolean {
  return member.name === '';
}

/** votersOf returns the voting members of `members`, in their order: every member that is not a learner. */
export function votersOf(members: readonly Member[]): Member[] {
  return members.filter((m) => !m.isLearner);
}

/** countHealthy returns how many of `members` are `healthy` in `health` (a member missing from it is not). */
export function countHealthy(members: readonly Member[], health: ReadonlyMap<MemberId, Health>): number {
  return members.filter((m) => health.get(m.id) === 'healthy').length;
}

/**
 * memberLabel is how every message names a member: `name [hexid]`. An unstarted member has no name yet, so it
 * shows its (canonical) peer URLs instead: `unstarted http://10.0.0.5:2380 [hexid]`.
 */
export function memberLabel(member: Member): string {
  const label = isUnstarted(member) ? `unstarted ${member.peerURLs.map(canonicalURL).join(',')}` : member.name;
  return `${label} [${memberIdToHex(member.id)}]`;
}

/**
 * isReusableBy reports whether the node advertising `peerURLs` may start as `member` instead of adding a new one:
 * an unstarted member with exactly those peer URLs (an earlier run's add whose answer was lost, or an admin's
 * `etcdctl member add`). Overlapping but different URLs are not enough: etcd checks the full set at start.
 */
export function isReusableBy(member: Member, peerURLs: readonly string[]): boolean {
  return isUnstarted(member) && sameURLSet(member.peerURLs, peerURLs);
}

/**
 * isGoneOnPlatform reports whether the platform says the machine behind `member` no longer exists: its name is
 * one of `platform.goneNames`, or one of its peer URLs is in `platform.gonePeerURLs` (the only way to match an
 * unstarted member, which has no name). URLs compare in canonical form. Without platform knowledge, nothing is gone.
 */
export function isGoneOnPlatform(member: Member, platform: PlatformKnowledge | undefined): boolean {
  return (
    // Stryker disable next-line ArrayDeclaration: the default is read only without platform knowledge; a member named exactly like Stryker's placeholder text is the only input that would tell them apart
    (!isUnstarted(member) && (platform?.goneNames ?? []).includes(member.name)) ||
    // Stryker disable next-line ArrayDeclaration: as above; a validated peer URL never equals the placeholder text
    urlsOverlap(member.peerURLs, platform?.gonePeerURLs ?? [])
  );
}

/**
 * Ascending order of distinct member IDs (a member list never names one twice), for deterministic lists.
 * Equal IDs never meet, so the comparator needs no tie case.
 */
export function compareMemberIds(a: MemberId, b: MemberId): number {
  // Stryker disable next-line EqualityOperator: the IDs compared are distinct, so `<` and `<=` order them alike
  return a < b ? -1 : 1;
}

/** Ascending order of distinct names (the members of a recorded bootstrap are named once each). */
export function compareNames(a: string, b: string): number {
  // Stryker disable next-line EqualityOperator: the names compared are distinct, so `<` and `<=` order them alike
  return a < b ? -1 : 1;
}
