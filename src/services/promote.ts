// Promotes this node's learner once it has caught up, without an admin. Runs after etcd started (the
// drop-in's ExecStartPost, or the Lambda's reconcile). Waits with backoff while etcd says the learner is
// not in sync yet, or while promoting would put the quorum at risk; gives up after `timeoutMs`.
import pRetry, { AbortError } from 'p-retry';
import { planPromotion } from '../core/membership.js';
import { describe } from '../core/planner.js';
import type { Member, SelfIdentity } from '../core/types.js';
import { sameURLSet } from '../core/urls.js';
import { checkMembersHealth, isEtcdError } from '../adapters/etcd/index.js';
import { clientFor, type EtcdConnection } from './connection.js';
import type { Logger } from './log.js';

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

export async function promoteWhenReady(input: PromoteInput): Promise<PromoteResult> {
  const { log } = input;
  const client = clientFor(input.endpoints, input.connection);
  const call = input.signal === undefined ? {} : { signal: input.signal };
  try {
    return await pRetry(
      async (): Promise<PromoteResult> => {
        const list = await client.memberList(call);
        const own =
          list.members.find((m) => m.name === input.self.name) ??
          list.members.find((m) => sameURLSet(m.peerURLs, input.self.peerURLs));
        if (own === undefined) {
          throw new AbortError(new PromotionError(`${input.self.name} is not a member of the cluster; nothing to promote`));
        }
        if (!own.isLearner) return { outcome: 'already-voter', member: own };
        const health = await checkMembersHealth(client, list.members, list.clusterId, {
          timeoutMs: input.connection.healthTimeoutMs,
          ...call,
        });
        const decision = planPromotion({ members: list.members, health }, own.id);
        if (decision.kind === 'refuse') throw new NotYet(decision.reason);
        if (decision.kind === 'not-learner') return { outcome: 'already-voter', member: own };
        try {
          await client.memberPromote(own.id, call);
        } catch (err) {
          if (isEtcdError(err, 'member-not-learner')) return { outcome: 'already-voter', member: own };
          if (isEtcdError(err, 'learner-not-ready')) throw new NotYet(`learner ${describe(own)} is not in sync with the leader yet`);
          throw err;
        }
        log.info(`promoted learner ${describe(own)} to a voting member`);
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
