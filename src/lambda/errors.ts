// The Lambda's answer to a refusal that goes away by itself, and which of the planner's refusals are such.
import type { RefusalCode } from '../core/types.js';

/** A refusal that goes away by itself: retry later (the event is redelivered, reconcile retries too). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

/** Refusals that end once another change finishes: a launch waits for them (up to its wait), then retries later. */
export const TRANSIENT_REFUSALS: readonly RefusalCode[] = [
  'join-in-progress',
  'learner-pending',
  'bootstrap-in-progress',
  'member-suspect',
  'restore-waiting',
  'restore-pending',
];
/** Refusals that depend on members' health at this moment: looked at again for a while before abandoning. */
export const HEALTH_REFUSALS: readonly RefusalCode[] = ['no-quorum', 'quorum-at-risk', 'cluster-down'];
