// Carries out a plan's membership steps against etcd, in the plan's order: removals, then the admission.
// Every step is safe to repeat: a member someone else already removed is fine, and a member that already
// exists with this node's peer URLs (an earlier run of ours added it) is taken over instead of added twice.
import { isReusableBy, memberLabel } from '../core/members.js';
import type { Member, Plan } from '../core/types.js';
import { isEtcdError, type EtcdClient } from '../adapters/etcd/index.js';
import type { Logger } from './log.js';
import { markJoining } from './observe.js';
import { retryTransient } from './retry.js';

export interface Executed {
  /** Members this run removed (not those already gone). */
  readonly removed: readonly Member[];
  /** The member this node starts as. */
  readonly admitted?: Member;
  readonly updated?: Member;
}

/** The executor's steps a test may crash before: updating, removing a member (by hex ID), admitting, marking. */
export type JoinFaultPoint = 'update' | `remove:${string}` | 'admit' | 'mark';

export interface ExecuteOptions {
  readonly log: Logger;
  readonly joinGraceSeconds: number;
  readonly signal?: AbortSignal;
  /** Test-only fault injection: called before each step with its name; throwing simulates a crash there. */
  readonly faultPoint?: (step: JoinFaultPoint) => void;
  /** How long to retry etcd's transient refusals of one step. */
  readonly transientRetryMs?: number;
}

/**
 * executePlan carries out the membership steps of `plan` against etcd in order: a resume's peer URL update, or
 * a join's removals, then its admission (add, or reuse of an unstarted member), then the join marker. Bootstrap,
 * plain resume and refusal plans change nothing. The caller holds the cluster lock and has just re-planned.
 *
 * Each step is safe to repeat: a member already removed counts as removed by someone else (not in `removed`),
 * and an add whose answer was lost takes over the unstarted member it created instead of adding a second one.
 *
 * @throws EtcdError from the first step that fails for good (transient refusals are retried first); the
 *   steps before it stay done, and running the re-planned join again finishes the rest.
 */
export async function executePlan(client: EtcdClient, plan: Plan, options: ExecuteOptions): Promise<Executed> {
  const { log } = options;
  const call = options.signal === undefined ? {} : { signal: options.signal };
  const retry = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retryTransient(what, fn, {
      log,
      ...(options.transientRetryMs !== undefined && { maxRetryTimeMs: options.transientRetryMs }),
      ...(options.signal !== undefined && { signal: options.signal }),
    });
  if (plan.kind === 'resume' && plan.updatePeerURLs !== undefined) {
    const { member, peerURLs } = plan.updatePeerURLs;
    options.faultPoint?.('update');
    await retry('update peer URLs', () => client.memberUpdate(member.id, peerURLs, call));
    log.info('updated the peer URLs of a member', { member: memberLabel(member), peerURLs });
    return { removed: [], updated: { ...member, peerURLs } };
  }
  if (plan.kind !== 'join') return { removed: [] };

  const removed: Member[] = [];
  for (const { member, reason } of plan.removals) {
    options.faultPoint?.(`remove:${member.id.toString(16)}`);
    try {
      await retry(`remove ${memberLabel(member)}`, () => client.memberRemove(member.id, call));
      removed.push(member);
      log.info('removed a member', { member: memberLabel(member), reason });
    } catch (err) {
      if (!isEtcdError(err, 'member-not-found')) throw err;
      log.info('the member was already removed', { member: memberLabel(member) });
    }
  }

  options.faultPoint?.('admit');
  const admission = plan.admission;
  let admitted: Member;
  if (admission.kind === 'reuse') {
    admitted = admission.member;
    log.info('starting as an existing unstarted member', { member: memberLabel(admitted) });
  } else {
    try {
      admitted = (await retry('add this node', () => client.memberAdd(admission.peerURLs, { asLearner: admission.asLearner }, call)))
        .member;
      log.info('added this node', { member: memberLabel(admitted), as: admission.asLearner ? 'learner' : 'voter' });
    } catch (err) {
      if (!isEtcdError(err, 'peer-url-exists')) throw err;
      // Our own earlier add went through although its answer was lost: take that member over.
      const list = await client.memberList(call);
      const own = list.members.find((m) => isReusableBy(m, admission.peerURLs));
      if (own === undefined) throw err;
      admitted = own;
      log.info("this node's member already exists; starting as it", { member: memberLabel(own) });
    }
  }
  options.faultPoint?.('mark');
  await markJoining(client, admitted.id, plan.settings.name, options.joinGraceSeconds, log);
  return { removed, admitted };
}
