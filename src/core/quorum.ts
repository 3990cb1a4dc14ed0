// The quorum arithmetic in one place. Raft commits with a majority of voters; learners never vote.

/** Votes needed to commit with `voters` voting members: floor(n/2) + 1. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
