// The launch lifecycle action: admit a new instance to the cluster (or form the cluster from the first wave),
// store its configuration for its boot script, and complete the action: CONTINUE, or ABANDON when joining is
// unsafe. Safe to run twice for the same instance.
import { memberLabel } from '../core/members.js';
import { renderDropin } from '../core/render.js';
import type { BootstrapSource, EtcdSettings, Member, Plan, SelfIdentity } from '../core/types.js';
import { hostOf, sameURLSet } from '../core/urls.js';
import { clientFor } from '../services/connection.js';
import { isEtcdError } from '../adapters/etcd/index.js';
import { readHealthHistory } from '../services/health-history.js';
import { runJoin } from '../services/join.js';
import { PromotionError, promoteWhenReady } from '../services/promote.js';
import { actionRef, heartbeater } from './action.js';
import type { LambdaConfig } from './config.js';
import type { LifecycleDeps } from './deps.js';
import { HEALTH_REFUSALS, RetryLaterError, TRANSIENT_REFUSALS } from './errors.js';
import type { LifecycleEvent } from './events.js';
import { decideFirstWave, judgeRecord, planStaticBootstrap, readBootstrapRecord, staticBootstrap } from './first-wave.js';
import { candidateEndpoints, clientURL, isLaunching, loadGroup, peerURL, platformKnowledge, type GroupView } from './group.js';
import { removeLongUnhealthyMembers } from './heal.js';
import { loggerFor } from './log.js';
import { promoteReadyLearners, removeGoneMembers } from './members.js';
import { requireNamespace } from './namespace.js';
import { versionSkewRefusal } from './skew.js';
import { markFormed } from './formed.js';
import { backUpWhenDue } from './backup.js';
import { waitBudgetMs } from './timing.js';
import { instanceRestoreOf, restoreIfLost } from './restore.js';
import { issueMemberTls, isTlsSetupError, prepareTls } from './tls.js';
import { CLUSTER_DEFAULTS, memberTlsPaths } from '../core/defaults.js';

export type LaunchOutcome = 'continue' | 'abandon' | 'duplicate' | 'not-launching';

/**
 * The launch of `event.instanceId`. mode 'action' (default): its launch lifecycle action is pending and is
 * completed here. mode 'adopt': a missed launch, an instance already InService that never got a launch action
 * (it launched before the hooks existed, as CloudFormation orders a group and separate hook resources):
 * planned and configured exactly as a launch, with no action to complete.
 * With TLS on (config.tls), every etcd call is mutual TLS with the Lambda's client certificate, and the member's
 * certificate is issued before anything changes and stored (instances/<id>/tls) before its https drop-in; a CA
 * that cannot be used, or a certificate that cannot be issued, abandons the launch with nothing written.
 */
export async function handleLaunch(
  event: Pick<LifecycleEvent, 'instanceId' | 'token'>,
  plainDeps: LifecycleDeps,
  mode: 'action' | 'adopt' = 'action',
): Promise<LaunchOutcome> {
  let deps = plainDeps;
  const { config, telemetry } = deps;
  const started = Date.now();
  const { instanceId } = event;
  const adopt = mode === 'adopt';
  const ref = actionRef(config.autoScalingGroup, config.launchHook, event);
  const complete = async (result: 'CONTINUE' | 'ABANDON'): Promise<void> => {
    if (adopt) return;
    await deps.autoScaling.completeLifecycleAction(ref, result);
    if (result === 'ABANDON') telemetry.count('LaunchesAbandoned');
  };
  let group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  const instance = group.instances.get(instanceId);
  const eligible = instance !== undefined && (adopt ? instance.lifecycleState === 'InService' : isLaunching(instance.lifecycleState));
  if (instance === undefined || !eligible) {
    telemetry.decision({
      trigger: 'launch',
      instanceId,
      decision: 'skip',
      reason:
        instance === undefined
          ? 'the instance is no longer in the group'
          : `the instance is ${instance.lifecycleState}, not launching: a late or repeated event`,
    });
    return 'not-launching';
  }
  if (instance.privateIp === undefined) throw new RetryLaterError(`instance ${instanceId} has no private IP yet`);
  const self = { name: instanceId, peerURLs: [peerURL(instance.privateIp, config)] };

  // TLS: the CA (created on first need), the Lambda's client certificate for every etcd call below, and this
  // member's certificate, issued and checked before anything changes. When any of them cannot be had, the launch
  // is abandoned: the instance is never started without TLS, and nothing was written.
  let memberTls: string | undefined;
  try {
    const prepared = await prepareTls(deps);
    if (prepared !== undefined) {
      deps = prepared.deps;
      memberTls = await issueMemberTls(prepared.ca, instance, config.tls!);
    }
  } catch (err) {
    if (!isTlsSetupError(err)) throw err;
    await complete('ABANDON');
    telemetry.decision({
      trigger: adopt ? 'reconcile' : 'launch',
      instanceId,
      decision: 'refuse',
      reason: `no usable certificate for the new member, so it is not started: ${err.message}`,
      details: { code: 'tls-unusable' },
    });
    return 'abandon';
  }
  /** The member's certificate goes before its drop-in: the boot script waits for the drop-in, then needs its tls. */
  const storeMemberTls = async (): Promise<void> => {
    if (memberTls !== undefined) await deps.parameters.putInstanceFile(instanceId, 'tls', memberTls);
  };

  // A repeated event after the parameters were stored (an earlier invocation failed before completing).
  const stored = await deps.parameters.get(deps.parameters.instanceName(instanceId, 'dropin'));
  if (stored !== undefined) {
    // Never a drop-in without its tls (a configuration written before TLS was on, or a lost parameter).
    if (memberTls !== undefined && (await deps.parameters.get(deps.parameters.instanceName(instanceId, 'tls'))) === undefined)
      await storeMemberTls();
    // Its learner may still be waiting for promotion: the launch completes only once the member votes.
    if (!adopt && (await memberState(self, group, deps)) === 'learner' && !(await promoteAfterLaunch(self, group, deps))) {
      const silent = await learnerSilentPastThreshold(self, group, deps);
      if (silent !== undefined) {
        // Waiting longer cannot help: the group replaces the instance, and the member of a gone instance is removed.
        await complete('ABANDON');
        telemetry.decision({ trigger: 'launch', instanceId, decision: 'refuse', reason: silent, details: { code: 'learner-silent' } });
        return 'abandon';
      }
      await holdLaunch(ref, instanceId, deps);
    }
    await complete('CONTINUE');
    telemetry.decision({
      trigger: 'launch',
      instanceId,
      decision: 'continue',
      reason: 'the instance already has its configuration: completing the pending action',
    });
    return 'duplicate';
  }

  const skew = await versionSkewRefusal(group, deps);
  if (skew !== undefined) {
    await complete('ABANDON'); // an adopted instance has no action: it is left as it is
    telemetry.decision({
      trigger: adopt ? 'reconcile' : 'launch',
      instanceId,
      decision: 'refuse',
      reason: skew,
      details: { code: 'version-skew' },
    });
    return 'abandon';
  }

  // A membership change may follow: a snapshot first when the newest is older than the interval (never throws).
  // Only once a cluster formed: a first wave has nothing to back up.
  if (deps.backups !== undefined && (await readBootstrapRecord(deps))?.formedAt !== undefined)
    await backUpWhenDue(group, deps, 'before-change');

  // Members of instances that are gone for good (their terminate events may have been lost) go first: etcd 3.4
  // refuses to add a member while a voter is down, and the planner would keep all but one of them.
  await removeGoneMembers(group, deps);

  const heartbeat = adopt ? () => Promise.resolve() : heartbeater(deps, ref);
  const budget = waitBudgetMs(deps.remainingMs());
  const deadline = Date.now() + Math.min(deps.launchWaitMs, budget);
  const unsafeDeadline = Date.now() + Math.min(deps.unsafeRecheckMs, budget);
  let plan: Plan;
  // A round costs a health timeout per hung member: another round starts only if one as long as the last fits.
  let roundStarted = Date.now();
  let roundMs = 0;
  for (;;) {
    plan = await joinOrBootstrapPastSuspects(self, group, deps);
    roundMs = Math.max(roundMs, Date.now() - roundStarted);
    if (plan.kind !== 'refuse') break;
    const waitable = TRANSIENT_REFUSALS.includes(plan.code);
    const nextRoundEnds = Date.now() + roundMs;
    if (!waitable && !(HEALTH_REFUSALS.includes(plan.code) && nextRoundEnds < unsafeDeadline)) break;
    if (waitable && nextRoundEnds >= deadline) throw new RetryLaterError(`launch of ${instanceId} must wait: ${plan.message}`);
    telemetry.debug('waiting before joining', { instanceId, code: plan.code, reason: plan.message });
    // A learner that caught up meanwhile frees the way for the next join.
    await promoteReadyLearners(group, deps);
    await heartbeat();
    await deps.sleep(deps.pollMs);
    group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
    roundMs = Date.now() - roundStarted;
    roundStarted = Date.now();
  }

  if (plan.kind === 'refuse') {
    await complete('ABANDON'); // an adopted instance is left as it is: the next pass looks again
    telemetry.decision({
      trigger: adopt ? 'reconcile' : 'launch',
      instanceId,
      decision: 'refuse',
      reason: plan.message,
      details: { code: plan.code },
    });
    telemetry.latency('Launch', Date.now() - started);
    return 'abandon';
  }

  await requireNamespace(deps);
  deps.faultPoint?.('store-parameters');
  const settings = withListenURLs(plan.settings, instance.privateIp, config);
  await storeMemberTls();
  // A member of a restore wave restores its snapshot before etcd starts: that parameter comes before the drop-in,
  // whose arrival starts the boot.
  if (plan.kind === 'bootstrap') {
    const record = await readBootstrapRecord(deps);
    const restore = record === undefined ? undefined : instanceRestoreOf(record, instanceId);
    if (restore !== undefined) await deps.parameters.putInstanceFile(instanceId, 'restore', JSON.stringify(restore));
  }
  // The drop-in is the instance's only configuration (the env file is no longer written: nothing read it).
  await deps.parameters.putInstanceFile(instanceId, 'dropin', renderDropin(settings));
  telemetry.decision({
    trigger: adopt ? 'reconcile' : 'launch',
    instanceId,
    decision: plan.kind,
    reason: plan.reason,
    details: planDetails(plan),
  });
  if (plan.kind === 'join') {
    telemetry.count('Additions', plan.admission.kind === 'add' ? 1 : 0);
    telemetry.count('Removals', plan.removals.length);
    // The instance is booting etcd now; promote its learner as soon as it caught up. The launch completes
    // (CONTINUE) only once the new member votes, so a rolling update that waits for InService never takes the
    // next voter while this one is still a learner. Not promoted within this invocation: the action waits
    // (heartbeat) and the redelivered event or the reconcile pass promotes and completes it.
    if (plan.promote && !(await promoteAfterLaunch(self, group, deps)) && !adopt) await holdLaunch(ref, instanceId, deps);
  }
  deps.faultPoint?.('complete');
  await complete('CONTINUE');
  telemetry.latency('Launch', Date.now() - started);
  return 'continue';
}

/** Keeps the launch action waiting (one heartbeat) and asks for a later retry: its learner is not a voter yet. */
async function holdLaunch(ref: ReturnType<typeof actionRef>, instanceId: string, deps: LifecycleDeps): Promise<never> {
  await deps.autoScaling.recordHeartbeat(ref);
  throw new RetryLaterError(`the new member of ${instanceId} is still a learner; its launch completes once it is promoted`);
}

/**
 * Why a pending launch's learner is given up on, or undefined while it may still come: its member has not
 * answered (never started, or stopped) for longer than the unhealthy threshold, per the health history in etcd.
 * A learner that answers but is still catching up (a large snapshot) has no such record and is waited for.
 */
async function learnerSilentPastThreshold(self: SelfIdentity, group: GroupView, deps: LifecycleDeps): Promise<string | undefined> {
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  try {
    const { members } = await client.memberList();
    const own = ownMember(members, self);
    if (own === undefined) return undefined;
    const since = (await readHealthHistory(client, loggerFor(deps.telemetry))).get(own.id);
    if (since === undefined) return undefined;
    const silentMs = Date.now() - since;
    if (silentMs < deps.config.unhealthyAfterMs) return undefined;
    return `its learner has not answered for ${Math.round(silentMs / 1000)} s (threshold ${deps.config.unhealthyAfterMs / 1000} s): the launch is abandoned so the group replaces the instance`;
  } catch (err) {
    if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return undefined;
    throw err;
  } finally {
    client.close();
  }
}

/** This launch's member: by name, or by peer URLs when it was added but never started (etcd names it then). */
function ownMember(members: readonly Member[], self: SelfIdentity): Member | undefined {
  return members.find((m) => m.name === self.name) ?? members.find((m) => sameURLSet(m.peerURLs, self.peerURLs));
}

/** Whether `self` is a learner, a voter, or not (visibly) a member: the cluster may not answer. */
async function memberState(self: SelfIdentity, group: GroupView, deps: LifecycleDeps): Promise<'learner' | 'voter' | 'unknown'> {
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  try {
    const { members } = await client.memberList();
    const own = ownMember(members, self);
    return own === undefined ? 'unknown' : own.isLearner ? 'learner' : 'voter';
  } catch (err) {
    if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return 'unknown';
    throw err;
  } finally {
    client.close();
  }
}

/** Promotes the new learner once it caught up, within this invocation's budget; true once it votes. */
async function promoteAfterLaunch(self: SelfIdentity, group: GroupView, deps: LifecycleDeps): Promise<boolean> {
  const timeoutMs = Math.min(deps.launchWaitMs, waitBudgetMs(deps.remainingMs()));
  try {
    const result = await promoteWhenReady({
      self,
      endpoints: [...candidateEndpoints(group, deps.config)],
      connection: deps.connection,
      timeoutMs,
      log: loggerFor(deps.telemetry),
    });
    if (result.outcome === 'promoted') {
      deps.telemetry.count('Promotions');
      deps.telemetry.decision({
        trigger: 'launch',
        instanceId: self.name,
        decision: 'promote',
        reason: 'the learner caught up',
        details: { member: memberLabel(result.member) },
      });
    }
    return true;
  } catch (err) {
    if (!(err instanceof PromotionError) && !isEtcdError(err)) throw err;
    deps.telemetry.info('the new learner is not promoted yet; the reconcile pass will', { instanceId: self.name, reason: err.message });
    return false;
  }
}

/**
 * joinOrBootstrap past members unhealthy for longer than the threshold: they are removed first (heal.ts; etcd refuses
 * every add while a voter does not answer, and they cost the quorum a growing cluster needs). etcd's own refusal
 * ("unhealthy cluster") is turned into a refusal to wait on: the member may answer again, or pass the threshold.
 */
async function joinOrBootstrapPastSuspects(self: SelfIdentity, group: GroupView, deps: LifecycleDeps): Promise<Plan> {
  await removeLongUnhealthyMembers(group, deps);
  try {
    return await joinOrBootstrap(self, group, deps);
  } catch (err) {
    if (!isEtcdError(err, 'unhealthy-cluster')) throw err;
    return {
      kind: 'refuse',
      code: 'member-suspect',
      message: `etcd refuses to add a member while one does not answer: ${(err as Error).message}`,
    };
  }
}

/**
 * Admits `self`: a join is planned and executed (runJoin: the members it removes and adds change under the
 * lock); a bootstrap of the first wave is only planned (the instance forms the cluster when it starts). Returns
 * the plan, a refusal included.
 */
async function joinOrBootstrap(self: SelfIdentity, group: GroupView, deps: LifecycleDeps): Promise<Plan> {
  const { config } = deps;
  const log = loggerFor(deps.telemetry);
  const record = await readBootstrapRecord(deps);
  // A member of the recorded first wave always starts from the record: etcd accepts a late bootstrap member
  // with the same initial cluster and token, whether or not the others formed the cluster already.
  if (record?.members.some((m) => m.name === self.name) === true) return planStaticBootstrap(self, record, config);
  const endpoints = candidateEndpoints(group, config).filter((u) => u !== clientURL(hostOf(self.peerURLs[0]!), config));
  let bootstrap: BootstrapSource = record === undefined ? { kind: 'none' } : staticBootstrap(record);
  const join = (source: BootstrapSource) =>
    runJoin({
      self,
      dataDir: config.dataDir,
      dataDirFresh: true,
      strategy: config.joinStrategy,
      joinAs: config.joinAs,
      targetSize: config.clusterSize,
      bootstrap: source,
      endpoints,
      platform: (members) => platformKnowledge(group, members),
      dryRun: false,
      connection: deps.connection,
      lockTimeoutMs: deps.lockTimeoutMs,
      holder: `lambda:${self.name}`,
      joinGraceSeconds: config.joinGraceSeconds,
      log,
      unhealthyAfterMs: config.unhealthyAfterMs,
      ...(deps.joinGraceSeconds !== undefined && { joinGraceSeconds: deps.joinGraceSeconds }),
      ...(deps.faultPoint !== undefined && { faultPoint: deps.faultPoint }),
    });
  let result = await join(bootstrap);
  if (record !== undefined && record.formedAt === undefined && result.plan.kind === 'join') await markFormed(deps);
  let firstWave = result.plan.kind === 'refuse' && result.plan.code === 'no-bootstrap-source' && record === undefined;
  if (result.plan.kind === 'refuse' && result.plan.code === 'no-quorum' && record !== undefined) {
    // Members answer but no quorum is left (a majority lost): recovered as a lost cluster when the rule says so.
    // A member answers clients only after it published itself through raft, which takes a quorum: members that
    // answer prove the recorded cluster formed, even when no reconcile pass saw it answer before it was lost.
    const formed = record.formedAt === undefined ? { ...record, formedAt: new Date().toISOString() } : record;
    if (record.formedAt === undefined) await markFormed(deps);
    return (await restoreIfLost(formed, self, group, deps)) ?? result.plan;
  }
  if (result.plan.kind === 'refuse' && result.plan.code === 'bootstrap-in-progress' && record !== undefined) {
    // No member answers a cluster that formed: restore it from a snapshot when the rule says so (restore.ts).
    if (record.formedAt !== undefined) {
      const restored = await restoreIfLost(record, self, group, deps);
      if (restored !== undefined) return restored;
    }
    // No member answers and this node is not in the record: is a first wave really still forming?
    const judged = await judgeRecord(record, self.name, group, deps);
    if (judged.kind === 'refuse') return judged;
    if (judged.kind === 'stale' && record.restore !== undefined) {
      // A restore wave lost before it formed: its data live on in the snapshot, never in an empty first wave.
      return (
        (await restoreIfLost(record, self, group, deps)) ?? {
          kind: 'refuse',
          code: 'cluster-down',
          message: 'the restore wave was lost before it formed and no restore is wanted now; record a restore request',
        }
      );
    }
    if (judged.kind === 'stale') firstWave = true;
  }
  if (firstWave) {
    // No cluster and no (live) decision: this is the first wave. Decide it once; whoever wrote first wins.
    const decided = await decideFirstWave(group, deps);
    if (decided === undefined) {
      return { kind: 'refuse', code: 'bootstrap-in-progress', message: 'the first wave of instances is not complete yet' };
    }
    bootstrap = staticBootstrap(decided);
    if (decided.members.some((m) => m.name === self.name)) return planStaticBootstrap(self, decided, config);
    result = await join(bootstrap);
  }
  return result.plan;
}

function withListenURLs(settings: EtcdSettings, ip: string, config: LambdaConfig): EtcdSettings {
  return {
    ...settings,
    dataDir: config.dataDir,
    listenPeerURLs: [peerURL(ip, config)],
    listenClientURLs: [clientURL(ip, config)],
    advertiseClientURLs: [clientURL(ip, config)],
    ...(config.tls !== undefined && { tls: memberTlsPaths(CLUSTER_DEFAULTS.pkiDir) }),
    // etcd's upkeep by default: an explicit space quota and auto-compaction (upkeep.ts does the rest).
    quotaBackendBytes: config.quotaBackendBytes,
    autoCompaction: config.autoCompaction,
  };
}

function planDetails(plan: Plan): Record<string, unknown> {
  if (plan.kind !== 'join') return { state: plan.kind === 'refuse' ? undefined : plan.settings.initialClusterState };
  return {
    removals: plan.removals.map((r) => ({ member: memberLabel(r.member), reason: r.reason })),
    admission:
      plan.admission.kind === 'add'
        ? `add as ${plan.admission.asLearner ? 'learner' : 'voter'}`
        : `reuse ${memberLabel(plan.admission.member)}`,
    checks: plan.checks,
  };
}
