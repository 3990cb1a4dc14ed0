// The launch lifecycle action: admit a new instance to the cluster (or form the cluster from the first wave),
// store its configuration for its boot script, and complete the action: CONTINUE, or ABANDON when joining is
// unsafe. Safe to run twice for the same instance.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { memberLabel } from '../core/members.js';
import { planJoin } from '../core/planner.js';
import { formatQuorumCheck } from '../core/quorum.js';
import { renderDropin } from '../core/render.js';
import type { BootstrapSource, EtcdSettings, Member, Plan } from '../core/types.js';
import { hostOf, sameURLSet } from '../core/urls.js';
import { clientFor } from '../services/connection.js';
import { isEtcdError } from '../adapters/etcd/index.js';
import { readHealthHistory } from '../services/health-history.js';
import { runJoin } from '../services/join.js';
import { PromotionError, promoteWhenReady } from '../services/promote.js';
import {
  actionRef,
  heartbeater,
  HEALTH_REFUSALS,
  loggerFor,
  RESERVE_MS,
  RetryLaterError,
  sleep,
  TRANSIENT_REFUSALS,
  type LifecycleDeps,
} from './common.js';
import type { LambdaConfig } from './config.js';
import type { LifecycleEvent } from './events.js';
import { candidateEndpoints, clientURL, isLaunching, liveInstances, loadGroup, peerURL, platformKnowledge, type GroupView } from './group.js';
import { removeLongUnhealthyMembers } from './heal.js';
import { promoteReadyLearners, removeGoneMembers } from './members.js';
import { requireNamespace } from './namespace.js';
import { versionSkewRefusal } from './skew.js';

const bootstrapRecordSchema = z.object({
  version: z.literal(1),
  token: z.string().min(8).max(128),
  members: z
    .array(z.object({ name: z.string().min(1), peerURLs: z.array(z.string().min(1)).min(1) }))
    .min(1),
  createdAt: z.string(),
});
export type BootstrapRecord = z.infer<typeof bootstrapRecordSchema>;

export type LaunchOutcome = 'continue' | 'abandon' | 'duplicate' | 'not-launching';

/**
 * The launch of `event.instanceId`. mode 'action' (default): its launch lifecycle action is pending and is
 * completed here. mode 'adopt': a missed launch, an instance already InService that never got a launch action
 * (it launched before the hooks existed, as CloudFormation orders a group and separate hook resources):
 * planned and configured exactly as a launch, with no action to complete.
 */
export async function handleLaunch(
  event: Pick<LifecycleEvent, 'instanceId' | 'token'>,
  deps: LifecycleDeps,
  mode: 'action' | 'adopt' = 'action',
): Promise<LaunchOutcome> {
  const { config, telemetry } = deps;
  const started = Date.now();
  const { instanceId } = event;
  const adopt = mode === 'adopt';
  const ref = actionRef(config.autoScalingGroup, config.launchHook, event);
  const complete = async (result: 'CONTINUE' | 'ABANDON'): Promise<void> => {
    if (!adopt) await deps.autoScaling.completeLifecycleAction(ref, result);
  };
  let group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  const instance = group.instances.get(instanceId);
  const eligible = instance !== undefined && (adopt ? instance.lifecycleState === 'InService' : isLaunching(instance.lifecycleState));
  if (instance === undefined || !eligible) {
    telemetry.decision({
      trigger: 'launch',
      instanceId,
      decision: 'skip',
      reason: instance === undefined ? 'the instance is no longer in the group' : `the instance is ${instance.lifecycleState}, not launching: a late or repeated event`,
    });
    return 'not-launching';
  }
  if (instance.privateIp === undefined) throw new RetryLaterError(`instance ${instanceId} has no private IP yet`);
  const self = { name: instanceId, peerURLs: [peerURL(instance.privateIp, config.peerPort)] };

  // A repeated event after the parameters were stored (an earlier invocation failed before completing).
  const stored = await deps.parameters.get(deps.parameters.instanceName(instanceId, 'dropin'));
  if (stored !== undefined) {
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
    telemetry.decision({ trigger: 'launch', instanceId, decision: 'continue', reason: 'the instance already has its configuration: completing the pending action' });
    return 'duplicate';
  }

  const skew = await versionSkewRefusal(group, deps);
  if (skew !== undefined) {
    await complete('ABANDON'); // an adopted instance has no action: it is left as it is
    telemetry.decision({ trigger: adopt ? 'reconcile' : 'launch', instanceId, decision: 'refuse', reason: skew, details: { code: 'version-skew' } });
    return 'abandon';
  }

  // Members of instances that are gone for good (their terminate events may have been lost) go first: etcd 3.4
  // refuses to add a member while a voter is down, and the planner would keep all but one of them.
  await removeGoneMembers(group, deps);

  const heartbeat = adopt ? () => Promise.resolve() : heartbeater(deps, ref);
  const budget = Math.max(0, deps.remainingMs() - RESERVE_MS);
  const deadline = Date.now() + Math.min(deps.launchWaitMs ?? 120_000, budget);
  const unsafeDeadline = Date.now() + Math.min(deps.unsafeRecheckMs ?? 30_000, budget);
  let plan: Plan;
  for (;;) {
    plan = await planLaunchPastSuspects(self, group, deps);
    if (plan.kind !== 'refuse') break;
    const waitable = TRANSIENT_REFUSALS.includes(plan.code);
    if (!waitable && !(HEALTH_REFUSALS.includes(plan.code) && Date.now() < unsafeDeadline)) break;
    if (waitable && Date.now() >= deadline) throw new RetryLaterError(`launch of ${instanceId} must wait: ${plan.message}`);
    telemetry.debug('waiting before joining', { instanceId, code: plan.code, reason: plan.message });
    // A learner that caught up meanwhile frees the way for the next join.
    await promoteReadyLearners(group, deps);
    await heartbeat();
    await (deps.sleep ?? sleep)(3000);
    group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  }

  if (plan.kind === 'refuse') {
    await complete('ABANDON'); // an adopted instance is left as it is: the next pass looks again
    telemetry.decision({ trigger: adopt ? 'reconcile' : 'launch', instanceId, decision: 'refuse', reason: plan.message, details: { code: plan.code } });
    telemetry.latency('Launch', Date.now() - started);
    return 'abandon';
  }

  await requireNamespace(deps);
  deps.faultPoint?.('store-parameters');
  const settings = withListenURLs(plan.settings, instance.privateIp, config);
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
async function learnerSilentPastThreshold(self: { name: string; peerURLs: string[] }, group: GroupView, deps: LifecycleDeps): Promise<string | undefined> {
  const client = clientFor(candidateEndpoints(group, deps.config.clientPort), deps.connection);
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
function ownMember(members: readonly Member[], self: { name: string; peerURLs: string[] }): Member | undefined {
  return members.find((m) => m.name === self.name) ?? members.find((m) => sameURLSet(m.peerURLs, self.peerURLs));
}

/** Whether `self` is a learner, a voter, or not (visibly) a member: the cluster may not answer. */
async function memberState(self: { name: string; peerURLs: string[] }, group: GroupView, deps: LifecycleDeps): Promise<'learner' | 'voter' | 'unknown'> {
  const client = clientFor(candidateEndpoints(group, deps.config.clientPort), deps.connection);
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
async function promoteAfterLaunch(self: { name: string; peerURLs: string[] }, group: GroupView, deps: LifecycleDeps): Promise<boolean> {
  const timeoutMs = Math.min(deps.launchWaitMs ?? 120_000, Math.max(0, deps.remainingMs() - RESERVE_MS));
  try {
    const result = await promoteWhenReady({
      self,
      endpoints: [...candidateEndpoints(group, deps.config.clientPort)],
      connection: deps.connection,
      timeoutMs,
      log: loggerFor(deps.telemetry),
    });
    if (result.outcome === 'promoted') {
      deps.telemetry.count('Promotions');
      deps.telemetry.decision({ trigger: 'launch', instanceId: self.name, decision: 'promote', reason: `learner ${memberLabel(result.member)} caught up` });
    }
    return true;
  } catch (err) {
    if (!(err instanceof PromotionError) && !isEtcdError(err)) throw err;
    deps.telemetry.info('the new learner is not promoted yet; the reconcile pass will', { instanceId: self.name, reason: (err).message });
    return false;
  }
}

/**
 * planLaunch past members unhealthy for longer than the threshold: they are removed first (heal.ts; etcd refuses
 * every add while a voter does not answer, and they cost the quorum a growing cluster needs). etcd's own refusal
 * ("unhealthy cluster") is turned into a refusal to wait on: the member may answer again, or pass the threshold.
 */
async function planLaunchPastSuspects(self: { name: string; peerURLs: string[] }, group: GroupView, deps: LifecycleDeps): Promise<Plan> {
  await removeLongUnhealthyMembers(group, deps);
  try {
    return await planLaunch(self, group, deps);
  } catch (err) {
    if (!isEtcdError(err, 'unhealthy-cluster')) throw err;
    return { kind: 'refuse', code: 'member-suspect', message: `etcd refuses to add a member while one does not answer: ${(err as Error).message}` };
  }
}

/** Plans (and, for a join, executes) the launch of `self`. */
async function planLaunch(self: { name: string; peerURLs: string[] }, group: GroupView, deps: LifecycleDeps): Promise<Plan> {
  const { config } = deps;
  const log = loggerFor(deps.telemetry);
  const record = await readBootstrapRecord(deps);
  // A member of the recorded first wave always starts from the record: etcd accepts a late bootstrap member
  // with the same initial cluster and token, whether or not the others formed the cluster already.
  if (record?.members.some((m) => m.name === self.name) === true) {
    return planJoin(
      { self, dataDirFresh: true, targetSize: config.clusterSize, cluster: { kind: 'unreachable' }, bootstrap: staticBootstrap(record) },
      { strategy: config.joinStrategy, joinAs: config.joinAs, dataDir: config.dataDir },
    );
  }
  const endpoints = candidateEndpoints(group, config.clientPort).filter((u) => u !== clientURL(hostOf(self.peerURLs[0]!), config.clientPort));
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
      lockTimeoutMs: 30_000,
      holder: `lambda:${self.name}`,
      joinGraceSeconds: config.joinGraceSeconds,
      log,
      unhealthyAfterMs: config.unhealthyAfterMs,
      ...(deps.joinGraceSeconds !== undefined && { joinGraceSeconds: deps.joinGraceSeconds }),
      ...(deps.faultPoint !== undefined && { faultPoint: deps.faultPoint }),
    });
  let result = await join(bootstrap);
  let firstWave = result.plan.kind === 'refuse' && result.plan.code === 'no-bootstrap-source' && record === undefined;
  if (result.plan.kind === 'refuse' && result.plan.code === 'bootstrap-in-progress' && record !== undefined) {
    // No member answers and this node is not in the record: is a first wave really still forming?
    const judged = await judgeRecord(record, self.name, group, deps);
    if (judged.kind === 'refuse') return judged;
    if (judged.kind === 'stale') firstWave = true;
  }
  if (firstWave) {
    // No cluster and no (live) decision: this is the first wave. Decide it once; whoever wrote first wins.
    const decided = await decideFirstWave(group, deps);
    if (decided === undefined) {
      return { kind: 'refuse', code: 'bootstrap-in-progress', message: 'the first wave of instances is not complete yet' };
    }
    bootstrap = staticBootstrap(decided);
    if (decided.members.some((m) => m.name === self.name)) {
      return planJoin(
        { self, dataDirFresh: true, targetSize: config.clusterSize, cluster: { kind: 'unreachable' }, bootstrap },
        { strategy: config.joinStrategy, joinAs: config.joinAs, dataDir: config.dataDir },
      );
    }
    result = await join(bootstrap);
  }
  return result.plan;
}

/**
 * A first-wave record nobody answers for. Stale when none of its instances is live and no live instance was
 * ever configured (no cluster can exist among them): it is deleted, and a new first wave is decided. When a
 * live instance outside the record was configured, a cluster formed and is down now: `cluster-down`, never
 * `bootstrap-in-progress`, which would wait for ever. Otherwise the recorded wave is still forming.
 */
async function judgeRecord(
  record: BootstrapRecord,
  selfName: string,
  group: GroupView,
  deps: LifecycleDeps,
): Promise<{ kind: 'forming' } | { kind: 'stale' } | Extract<Plan, { kind: 'refuse' }>> {
  const live = new Set(liveInstances(group).map((i) => i.instanceId));
  const recorded = new Set(record.members.map((m) => m.name));
  const configured = (await deps.parameters.listInstanceIds()).filter((id) => live.has(id) && id !== selfName);
  const outside = configured.filter((id) => !recorded.has(id));
  if (outside.length > 0) {
    return {
      kind: 'refuse',
      code: 'cluster-down',
      message: `the cluster formed (instances ${outside.join(', ')} joined it) and no member answers now; a new member cannot join until it is back`,
    };
  }
  if (configured.length === 0 && ![...recorded].some((name) => live.has(name))) {
    deps.telemetry.warn('the recorded first wave is stale: none of its instances is live and no live instance was configured; deciding a new one', {
      members: [...recorded],
      createdAt: record.createdAt,
    });
    await requireNamespace(deps);
    await deps.parameters.delete(deps.parameters.bootstrapName());
    return { kind: 'stale' };
  }
  return { kind: 'forming' };
}

function staticBootstrap(record: BootstrapRecord): BootstrapSource {
  return { kind: 'static', token: record.token, members: record.members };
}

async function readBootstrapRecord(deps: LifecycleDeps): Promise<BootstrapRecord | undefined> {
  const raw = await deps.parameters.get(deps.parameters.bootstrapName());
  return raw === undefined ? undefined : parseBootstrapRecord(raw, deps.parameters.bootstrapName());
}

export function parseBootstrapRecord(raw: string, where: string): BootstrapRecord {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`the bootstrap record ${where} is not JSON; fix or delete it`);
  }
  const parsed = bootstrapRecordSchema.safeParse(json);
  if (!parsed.success) throw new Error(`the bootstrap record ${where} is malformed (${parsed.error.issues[0]?.message ?? 'invalid'}); fix or delete it`);
  return parsed.data;
}

/**
 * The first wave: the group's live instances, as many as the cluster size (or the desired capacity when the
 * size is unlimited), by instance ID. Recorded create-only, so concurrent or later invocations all read the
 * same decision. Undefined while fewer instances than that exist.
 */
async function decideFirstWave(group: GroupView, deps: LifecycleDeps): Promise<BootstrapRecord | undefined> {
  const { config } = deps;
  const wanted = Math.max(1, Math.min(config.clusterSize === 'unlimited' ? Infinity : config.clusterSize, group.desiredCapacity ?? Infinity));
  const candidates = liveInstances(group).filter((i) => i.privateIp !== undefined);
  if (!Number.isFinite(wanted) || candidates.length < wanted) {
    deps.telemetry.info('first wave incomplete', { wanted, visible: candidates.length });
    return undefined;
  }
  const record: BootstrapRecord = {
    version: 1,
    token: `${config.clusterName}-${randomUUID()}`,
    members: candidates.slice(0, wanted).map((i) => ({ name: i.instanceId, peerURLs: [peerURL(i.privateIp!, config.peerPort)] })),
    createdAt: new Date().toISOString(),
  };
  await requireNamespace(deps);
  const written = await deps.parameters.createOnly(deps.parameters.bootstrapName(), JSON.stringify(record));
  const decided = written.created ? record : parseBootstrapRecord(written.value, deps.parameters.bootstrapName());
  deps.telemetry.info(written.created ? 'recorded the first wave' : 'read the first wave recorded by another invocation', {
    members: decided.members.map((m) => m.name),
  });
  return decided;
}

function withListenURLs(settings: EtcdSettings, ip: string, config: LambdaConfig): EtcdSettings {
  return {
    ...settings,
    dataDir: config.dataDir,
    listenPeerURLs: [peerURL(ip, config.peerPort)],
    listenClientURLs: [clientURL(ip, config.clientPort)],
    advertiseClientURLs: [clientURL(ip, config.clientPort)],
  };
}

function planDetails(plan: Plan): Record<string, unknown> {
  if (plan.kind !== 'join') return { state: plan.kind === 'refuse' ? undefined : plan.settings.initialClusterState };
  return {
    removals: plan.removals.map((r) => ({ member: memberLabel(r.member), reason: r.reason })),
    admission: plan.admission.kind === 'add' ? `add as ${plan.admission.asLearner ? 'learner' : 'voter'}` : `reuse ${memberLabel(plan.admission.member)}`,
    checks: plan.checks.map(formatQuorumCheck),
  };
}
