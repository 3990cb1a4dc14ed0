// The Lambda's time budget, named once: how long a lifecycle decision waits, how often it looks again, and what
// it keeps in reserve. These are the production values; lifecycleDeps (deps.ts) resolves them into
// LifecycleDeps, where the simulated world shortens them.

/** Time kept in reserve at the end of an invocation for completing the action and logging. */
export const RESERVE_MS = 15_000;
/** How often a lifecycle action the Lambda holds records a heartbeat (the hooks' heartbeat timeouts are minutes). */
export const HEARTBEAT_EVERY_MS = 60_000;
/** How long a launch waits for another join to finish, or for its learner to be promoted. */
export const LAUNCH_WAIT_MS = 120_000;
/**
 * How long a launch (or a termination) looks again before it abandons an unsafe join (or holds the termination):
 * a cluster that just lost its leader, or a member that is briefly unreachable, is often fine seconds later.
 */
export const UNSAFE_RECHECK_MS = 30_000;
/** The pause between two looks while a decision waits. */
export const POLL_MS = 3_000;
/** How long a membership change waits for the cluster lock in etcd. */
export const LOCK_TIMEOUT_MS = 30_000;
/** Bound on one etcd request from the Lambda (in a VPC, a member answers in milliseconds or not at all). */
export const REQUEST_TIMEOUT_MS = 3_000;

/** The time this invocation may still spend waiting: what is left of it, less the reserve; never negative. */
export function waitBudgetMs(remainingMs: number): number {
  return Math.max(0, remainingMs - RESERVE_MS);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
