// Promotes this node's learner once it has caught up, without an admin. Runs after etcd started (the
// drop-in's ExecStartPost, or the Lambda's reconcile). Waits with backoff while etcd says the learner is
// not in sync yet, or while promoting would put the quorum at risk; gives up after `timeoutMs`.
import pRetry, { AbortError } from 'p-retry';
import { planPromotion } from '../core/membership.js';
import { memberLabel } from '../core/members.js';
import type { Health, Member, MemberId, SelfIdentity } from '../core/types.js';
import { sameURLSet } from '../core/urls.js';
import { checkMembersHealth, isEtcdError, type EtcdClient } from '../adapters/etcd/index.js';
import { clientFor, type EtcdConnection } from './connection.js';
import type { Logger } from './log.js';

/** Promotion gave up: this node is no member, or it was not promotable within the timeout. */
export class PromotionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PromotionError';
  }
}

class NotYet extends Error {}

export interface PromoteInput {
  readonly self: SelfIdentity;
  readonly endpoints: readonly string[];
  readonly connection: EtcdConnection;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

export interface PromoteResult {
  readonly outcome: 'promoted' | 'already-voter';
  readonly member: Member;
}

/**
 * promoteWhenReady promotes this node's learner (found by name, else by peer URLs) to a voter once etcd accepts
 * it, retrying with backoff while it is not in sync, while promoting would put the quorum at risk (planPromotion)
 * or while etcd is unavailable. A member that already votes is success ('already-voter'), so it is safe to run
 * again.
 *
 * @throws PromotionError when this node is not a member, or is still not promotable after `timeoutMs`.
 */
export async function promoteWhenReady(input: PromoteInput): Promise<PromoteResult> {
  const { log } = input;
  const client = clientFor(input.endpoints, input.connection);
  const call = input.signal === undefined ? {} : { signal: input.signal };
  try {
    return await pRetry(
      async (): Promise<PromoteResult> => {
        const list = await client.memberList(call);
        const own =
          list.members.find((m) => m.name === input.self.name) ?? list.members.find((m) => sameURLSet(m.peerURLs, input.self.peerURLs));
        if (own === undefined) {
          throw new AbortError(new PromotionError(`${input.self.name} is not a member of the cluster; nothing to promote`));
        }
        if (!own.isLearner) return { outcome: 'already-voter', member: own };
        const health = await checkMembersHealth(client, list.members, list.clusterId, {
          timeoutMs: input.connection.healthTimeoutMs,
          ...call,
        });
        const attempt = await promoteOnce(client, list.members, health, own, input.signal);
        if (attempt.kind === 'not-yet') throw new NotYet(attempt.reason);
        if (attempt.kind === 'already-voter') return { outcome: 'already-voter', member: own };
        log.info('promoted the learner to a voting member', { member: memberLabel(own) });
        return { outcome: 'promoted', member: { ...own, isLearner: false } };
      },
      {
        retries: Number.POSITIVE_INFINITY,
        minTimeout: 500,
        maxTimeout: 5000,
        factor: 1.5,
        maxRetryTime: input.timeoutMs,
        ...(input.signal !== undefined && { signal: input.signal }),
        shouldRetry: ({ error }) =>
          error instanceof NotYet || (isEtcdError(error) && ['unavailable', 'timeout', 'unhealthy-cluster'].includes(error.code)),
        onFailedAttempt: ({ error }) => log.debug(2, `not promoted yet: ${error.message}`),
      },
    );
  } catch (err) {
    if (err instanceof NotYet) {
      throw new PromotionError(`gave up promoting after ${Math.round(input.timeoutMs / 1000)} s: ${err.message}`);
    }
    throw err;
  } finally {
    client.close();
  }
}

export type PromotionAttempt =
  { readonly kind: 'promoted' } | { readonly kind: 'already-voter' } | { readonly kind: 'not-yet'; readonly reason: string };

/**
 * One guarded promotion attempt of `learner`: the quorum rule first, then etcd's own checks. "Not yet" when
 * promoting would risk the quorum, the learner has not caught up, or etcd refuses reconfiguration for now.
 */
export async function promoteOnce(
  client: EtcdClient,
  members: readonly Member[],
  health: ReadonlyMap<MemberId, Health>,
  learner: Member,
  signal?: AbortSignal,
): Promise<PromotionAttempt> {
  const decision = planPromotion({ members, health }, learner.id);
  if (decision.kind === 'not-learner') return { kind: 'already-voter' };
  if (decision.kind === 'refuse') return { kind: 'not-yet', reason: decision.reason };
  try {
    await client.memberPromote(learner.id, signal === undefined ? {} : { signal });
    return { kind: 'promoted' };
  } catch (err) {
    if (isEtcdError(err, 'member-not-learner')) return { kind: 'already-voter' };
    if (isEtcdError(err, 'learner-not-ready'))
      return { kind: 'not-yet', reason: `learner ${memberLabel(learner)} is not in sync with the leader yet` };
    if (isEtcdError(err, 'unhealthy-cluster')) return { kind: 'not-yet', reason: `etcd refuses reconfiguration for now: ${err.message}` };
    throw err;
  }
}
