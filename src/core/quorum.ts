// The quorum arithmetic in one place. Raft commits with a majority of voters; learners never vote.
import type { QuorumCheck } from './types.js';

/** Votes needed to commit with `voters` voting members: floor(n/2) + 1. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * hasQuorum reports whether `healthyVoters` of `voters` voting members can commit: there is at least one voter
 * and the healthy ones reach the quorum. A cluster without voters has no quorum.
 */
export function hasQuorum(voters: number, healthyVoters: number): boolean {
  // Stryker disable next-line ConditionalExpression,EqualityOperator: every caller counts healthy voters among the voters (healthyVoters <= voters), and quorumOf(0) is 1, so 0 voters fail the second test anyway; `voters > 0` states the rule outright
  return voters > 0 && healthyVoters >= quorumOf(voters);
}

/**
 * quorumCheck evaluates the quorum guard for one membership step: right after `step` there are `votersAfter`
 * voting members, of which `healthyVoters` are healthy; the step is ok only if they still have a quorum.
 */
export function quorumCheck(step: string, votersAfter: number, healthyVoters: number): QuorumCheck {
  return { step, voters: votersAfter, healthyVoters, quorum: quorumOf(votersAfter), ok: hasQuorum(votersAfter, healthyVoters) };
}

/** formatQuorumCheck is how logs show one quorum check: `<step>: H healthy of V voters, quorum Q: ok|at risk`. */
export function formatQuorumCheck(check: QuorumCheck): string {
  return `${check.step}: ${check.healthyVoters} healthy of ${check.voters} voters, quorum ${check.quorum}: ${check.ok ? 'ok' : 'at risk'}`;
}
