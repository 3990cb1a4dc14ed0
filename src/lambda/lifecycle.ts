// The lifecycle-hook handler's decisions: launch, terminate and the scheduled reconcile pass.
//
// Every handler is safe to run twice for the same event and tolerates events that come late or out of
// order: it looks at the group and the cluster as they are now, not at what the event claims. Membership
// changes happen under the cluster lock in etcd (shared with the CLI), and the Lambda runs one invocation at
// a time. Transient trouble (a join still in progress, etcd briefly unhealthy, AWS throttling) ends in a thrown
// error, so the event is delivered again and the reconcile pass catches whatever is left over.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { planRemoval, planPromotion } from '../core/membership.js';
import { describe, planJoin } from '../core/planner.js';
import { renderDropin, renderEnv } from '../core/render.js';
import type { BootstrapSource, EtcdSettings, Member, Plan, RefusalCode } from '../core/types.js';
import { hostOf } from '../core/urls.js';
import type { AutoScalingAdapter, Ec2Adapter, LifecycleActionRef, ParameterStore } from '../adapters/aws/index.js';
import { checkMembersHealth, isEtcdError, type EtcdClient } from '../adapters/etcd/index.js';
import { clientFor, type EtcdConnection } from '../services/connection.js';
import { runJoin } from '../services/join.js';
import { withClusterLock } from '../services/lock.js';
import type { Logger } from '../services/log.js';
import { observeForPlanning } from '../services/observe.js';
import { PromotionError, promoteWhenReady } from '../services/promote.js';
import { retryTransient } from '../services/retry.js';
import type { LambdaConfig } from './config.js';
import type { LifecycleEvent } from './events.js';
import {
  candidateEndpoints,
  clientURL,
  isLaunching,
  liveInstances,
  loadGroup,
  peerURL,
  platformKnowledge,
  type GroupInstanceView,
  type GroupView,
} from './group.js';
import type { Telemetry } from './log.js';

export interface LifecycleDeps {
  readonly config: LambdaConfig;
  readonly autoScaling: AutoScalingAdapter;
  readonly ec2: Ec2Adapter;
  readonly parameters: ParameterStore;
  readonly telemetry: Telemetry;
  readonly connection: EtcdConnection;
  /** Milliseconds left in this invocation. */
  readonly remainingMs: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long a launch waits for another join to finish, or for its learner to be promoted. */
  readonly launchWaitMs?: number;
  /**
   * How long a launch keeps looking again before it abandons an unsafe join: a cluster that just lost its
   * leader, or a member that is briefly unreachable, is often fine seconds later.
   */
  readonly unsafeRecheckMs?: number;
  /** Test-only fault injection: throwing here simulates a crash between two steps. */
  readonly faultPoint?: (step: string) => void;
}

/** A refusal that goes away by itself: retry later (the event is redelivered, reconcile retries too). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

const TRANSIENT_REFUSALS: readonly RefusalCode[] = ['join-in-progress', 'learner-pending', 'bootstrap-in-progress'];
/** Refusals that depend on members' health at this moment: looked at again for a while before abandoning. */
const HEALTH_REFUSALS: readonly RefusalCode[] = ['no-quorum', 'quorum-at-risk', 'cluster-down'];
/** Time kept in reserve at the end of an invocation for completing the action and logging. */
const RESERVE_MS = 15_000;
const HEARTBEAT_EVERY_MS = 60_000;

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

// ---------------------------------------------------------------------------------------------------------
// Launch

export async function handleLaunch(event: Pick<LifecycleEvent, 'instanceId' | 'token'>, deps: LifecycleDeps): Promise<LaunchOutcome> {
  const { config, telemetry } = deps;
  const started = Date.now();
  const { instanceId } = event;
  const ref = actionRef(config.autoScalingGroup, config.launchHook, event);
  let group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  const instance = group.instances.get(instanceId);
  if (instance === undefined || !isLaunching(instance.lifecycleState)) {
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
    await deps.autoScaling.completeLifecycleAction(ref, 'CONTINUE');
    telemetry.decision({ trigger: 'launch', instanceId, decision: 'continue', reason: 'the instance already has its configuration: completing the pending action' });
    return 'duplicate';
  }

  // Members of instances that are gone for good (their terminate events may have been lost) go first: etcd 3.4
  // refuses to add a member while a voter is down, and the planner would keep all but one of them.
  await removeGoneMembers(group, deps);

  const heartbeat = heartbeater(deps, ref);
  const budget = Math.max(0, deps.remainingMs() - RESERVE_MS);
  const deadline = Date.now() + Math.min(deps.launchWaitMs ?? 120_000, budget);
  const unsafeDeadline = Date.now() + Math.min(deps.unsafeRecheckMs ?? 30_000, budget);
  let plan: Plan;
  for (;;) {
    plan = await planLaunch(self, group, deps);
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
    await deps.autoScaling.completeLifecycleAction(ref, 'ABANDON');
    telemetry.decision({ trigger: 'launch', instanceId, decision: 'refuse', reason: plan.message, details: { code: plan.code } });
    telemetry.latency('Launch', Date.now() - started);
    return 'abandon';
  }

  deps.faultPoint?.('store-parameters');
  const settings = withListenURLs(plan.settings, instance.privateIp, config);
  // The drop-in last: the instance waits for it, so the env file is always there when the drop-in is.
  await deps.parameters.putInstanceFile(instanceId, 'env', renderEnv(settings));
  await deps.parameters.putInstanceFile(instanceId, 'dropin', renderDropin(settings));
  deps.faultPoint?.('complete');
  await deps.autoScaling.completeLifecycleAction(ref, 'CONTINUE');
  telemetry.decision({
    trigger: 'launch',
    instanceId,
    decision: plan.kind,
    reason: plan.reason,
    details: planDetails(plan),
  });
  if (plan.kind === 'join') {
    telemetry.count('Additions', plan.admission.kind === 'add' ? 1 : 0);
    telemetry.count('Removals', plan.removals.length);
    // The instance is booting etcd now; promote its learner as soon as it caught up, so the next join need
    // not wait. If that takes longer than this invocation may, the reconcile pass promotes it.
    if (plan.promote) await promoteAfterLaunch(self, group, deps);
  }
  telemetry.latency('Launch', Date.now() - started);
  return 'continue';
}

async function promoteAfterLaunch(self: { name: string; peerURLs: string[] }, group: GroupView, deps: LifecycleDeps): Promise<void> {
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
      deps.telemetry.decision({ trigger: 'launch', instanceId: self.name, decision: 'promote', reason: `learner ${describe(result.member)} caught up` });
    }
  } catch (err) {
    if (!(err instanceof PromotionError) && !isEtcdError(err)) throw err;
    deps.telemetry.info('the new learner is not promoted yet; the reconcile pass will', { instanceId: self.name, reason: (err).message });
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
      log,
      ...(deps.faultPoint !== undefined && { faultPoint: deps.faultPoint }),
    });
  let result = await join(bootstrap);
  if (result.plan.kind === 'refuse' && result.plan.code === 'no-bootstrap-source' && record === undefined) {
    // No cluster and no decision yet: this is the first wave. Decide it once; whoever wrote first wins.
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

// ---------------------------------------------------------------------------------------------------------
// Terminate

/**
 * removed: this run removed the member; absent: it was not (or no longer) a member; kept: no member answers,
 * so nothing can be removed or protected; unsafe: removing it would leave the others without a quorum.
 */
export type TerminateOutcome = 'removed' | 'absent' | 'kept' | 'unsafe';

export async function handleTerminate(event: Pick<LifecycleEvent, 'instanceId' | 'token'>, deps: LifecycleDeps): Promise<TerminateOutcome> {
  const { config, telemetry } = deps;
  const started = Date.now();
  const { instanceId } = event;
  const ref = actionRef(config.autoScalingGroup, config.terminateHook, event);
  const group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  const ip = group.instances.get(instanceId)?.privateIp;
  const isTarget = (m: Member): boolean =>
    m.name === instanceId || (ip !== undefined && m.peerURLs.some((u) => safeHost(u) === ip) && (m.name === '' || m.name === instanceId));
  const why = `instance ${instanceId} is terminating`;
  let outcome = await removeMember(group, isTarget, why, deps);
  if (outcome === 'unsafe') {
    // The machine still runs and still counts for the quorum: hold its termination (the hook waits, kept alive
    // by heartbeats) until removing it is safe, rather than let the group take a voter the quorum needs.
    const heartbeat = heartbeater(deps, ref);
    const deadline = Date.now() + Math.min(deps.unsafeRecheckMs ?? 30_000, Math.max(0, deps.remainingMs() - RESERVE_MS));
    while (outcome === 'unsafe' && Date.now() < deadline) {
      await heartbeat();
      await (deps.sleep ?? sleep)(3000);
      outcome = await removeMember(group, isTarget, why, deps);
    }
    if (outcome === 'unsafe') {
      await deps.autoScaling.recordHeartbeat(ref);
      throw new RetryLaterError(`${why}, but removing its member now would cost the quorum; its termination waits`);
    }
  }
  deps.faultPoint?.('delete-parameters');
  await deps.parameters.deleteInstance(instanceId);
  await deps.autoScaling.completeLifecycleAction(ref, 'CONTINUE');
  telemetry.latency('Terminate', Date.now() - started);
  return outcome;
}

/** Removes the member `isTarget` picks, under the lock, if the quorum allows. */
async function removeMember(group: GroupView, isTarget: (m: Member) => boolean, why: string, deps: LifecycleDeps): Promise<TerminateOutcome> {
  const { telemetry } = deps;
  const log = loggerFor(telemetry);
  const endpoints = candidateEndpoints(group, deps.config.clientPort);
  const client = clientFor(endpoints, deps.connection);
  try {
    const observed = await observeForPlanning(client, deps.connection, log);
    if (observed.kind === 'unreachable') {
      telemetry.decision({ trigger: 'terminate', decision: 'keep', reason: `${why}, but no member answers; the reconcile pass removes it later` });
      return 'kept';
    }
    const first = planRemoval(observed, isTarget);
    if (first.kind === 'absent') {
      telemetry.decision({ trigger: 'terminate', decision: 'skip', reason: `${why}; it is not a member (already removed, or never joined)` });
      return 'absent';
    }
    if (first.kind === 'refuse') {
      // Decided before taking the lock: without a quorum the lock could not be had anyway.
      telemetry.decision({ trigger: 'terminate', decision: 'keep', reason: `${why}, but ${first.reason}` });
      return 'unsafe';
    }
    return await withClusterLock(client, { holder: `lambda:remove`, timeoutMs: 30_000, log }, async () => {
      const now = await observeForPlanning(client, deps.connection, log);
      if (now.kind === 'unreachable') return 'kept';
      const decision = planRemoval(now, isTarget);
      if (decision.kind === 'absent') return 'absent';
      if (decision.kind === 'refuse') {
        telemetry.decision({ trigger: 'terminate', decision: 'keep', reason: `${why}, but ${decision.reason}` });
        return 'unsafe';
      }
      deps.faultPoint?.('remove-member');
      try {
        await retryTransient(`remove ${describe(decision.member)}`, () => client.memberRemove(decision.member.id), { log });
      } catch (err) {
        if (!isEtcdError(err, 'member-not-found')) throw err;
        return 'absent';
      }
      telemetry.count('Removals');
      telemetry.decision({ trigger: 'terminate', decision: 'remove', reason: `${why}: removed ${describe(decision.member)}` });
      return 'removed';
    });
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Reconcile

export interface ReconcileReport {
  readonly promoted: string[];
  readonly removed: string[];
  readonly deletedParameters: string[];
  readonly launchesHandled: string[];
  readonly terminationsHandled: string[];
  /** Pending actions that could not be finished in this pass, with why; the next pass tries again. */
  readonly deferred: string[];
  clusterReachable: boolean;
}

/**
 * Converges the cluster to the group; the safety net for lost, late and failed events. Order matters: pending
 * terminations first, then members of instances that are gone (etcd 3.4 refuses any add while a voter is
 * down), then pending launches, then promotions, then orphaned parameters. One step failing does not stop the
 * others.
 */
export async function reconcile(deps: LifecycleDeps): Promise<ReconcileReport> {
  const { config, telemetry } = deps;
  const report: ReconcileReport = {
    promoted: [],
    removed: [],
    deletedParameters: [],
    launchesHandled: [],
    terminationsHandled: [],
    deferred: [],
    clusterReachable: false,
  };
  const attempt = async (what: string, step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      report.deferred.push(`${what}: ${reason}`);
      telemetry.warn(`reconcile: ${what} must wait for a later pass`, { reason });
    }
  };
  let group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);

  for (const instance of [...group.instances.values()].filter((i) => i.lifecycleState === 'Terminating:Wait')) {
    await attempt(`terminate ${instance.instanceId}`, async () => {
      await handleTerminate({ instanceId: instance.instanceId, token: '' }, deps);
      report.terminationsHandled.push(instance.instanceId);
    });
  }
  group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  await attempt('remove members of gone instances', async () => {
    const gone = await removeGoneMembers(group, deps);
    report.clusterReachable = gone.reachable;
    report.removed.push(...gone.removed);
  });
  for (const instance of [...group.instances.values()].filter((i) => i.lifecycleState === 'Pending:Wait')) {
    await attempt(`launch ${instance.instanceId}`, async () => {
      await handleLaunch({ instanceId: instance.instanceId, token: '' }, deps);
      report.launchesHandled.push(instance.instanceId);
    });
  }
  group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  await attempt('promote learners', async () => {
    report.promoted.push(...(await promoteReadyLearners(group, deps)));
  });

  // Parameters of instances that are gone.
  const live = new Set(liveInstances(group).map((i) => i.instanceId));
  for (const id of await deps.parameters.listInstanceIds()) {
    if (!live.has(id)) {
      await deps.parameters.deleteInstance(id);
      report.deletedParameters.push(id);
    }
  }
  telemetry.decision({
    trigger: 'reconcile',
    decision: 'reconciled',
    reason: summary(report),
    details: { ...report },
  });
  return report;
}

/** Removes, one at a time and each under the quorum guard, the members whose instances are gone for good. */
async function removeGoneMembers(group: GroupView, deps: LifecycleDeps): Promise<{ reachable: boolean; removed: string[] }> {
  const client = clientFor(candidateEndpoints(group, deps.config.clientPort), deps.connection);
  const removed: string[] = [];
  try {
    const observed = await observeForPlanning(client, deps.connection, loggerFor(deps.telemetry));
    if (observed.kind === 'unreachable') return { reachable: false, removed };
    const known = platformKnowledge(group, observed.members);
    const gone = observed.members.filter(
      (m) => (known.goneNames ?? []).includes(m.name) || m.peerURLs.some((u) => (known.gonePeerURLs ?? []).includes(u)),
    );
    for (const member of gone) {
      const outcome = await removeMember(group, (m) => m.id === member.id, `the instance behind ${describe(member)} is gone`, deps);
      if (outcome === 'removed') removed.push(describe(member));
    }
    return { reachable: true, removed };
  } finally {
    client.close();
  }
}

/** Promotes every learner that caught up, if the quorum allows. Returns the promoted members' names. */
async function promoteReadyLearners(group: GroupView, deps: LifecycleDeps): Promise<string[]> {
  const log = loggerFor(deps.telemetry);
  const client = clientFor(candidateEndpoints(group, deps.config.clientPort), deps.connection);
  const promoted: string[] = [];
  try {
    let list;
    try {
      list = await client.memberList();
    } catch (err) {
      if (isEtcdError(err, 'unavailable') || isEtcdError(err, 'timeout')) return promoted;
      throw err;
    }
    const learners = list.members.filter((m) => m.isLearner && m.name !== '');
    if (learners.length === 0) return promoted;
    const health = await checkMembersHealth(client, list.members, list.clusterId, { timeoutMs: deps.connection.healthTimeoutMs });
    for (const learner of learners) {
      if (health.get(learner.id) !== 'healthy') continue;
      const decision = planPromotion({ members: list.members, health }, learner.id);
      if (decision.kind !== 'promote') {
        log.info(`not promoting ${describe(learner)}: ${decision.reason}`);
        continue;
      }
      if (await tryPromote(client, learner, log)) {
        promoted.push(learner.name);
        deps.telemetry.count('Promotions');
        deps.telemetry.decision({ trigger: 'reconcile', instanceId: learner.name, decision: 'promote', reason: `learner ${describe(learner)} caught up` });
      }
    }
  } finally {
    client.close();
  }
  return promoted;
}

async function tryPromote(client: EtcdClient, learner: Member, log: Logger): Promise<boolean> {
  try {
    await client.memberPromote(learner.id);
    return true;
  } catch (err) {
    if (isEtcdError(err, 'learner-not-ready') || isEtcdError(err, 'member-not-learner') || isEtcdError(err, 'unhealthy-cluster')) {
      log.debug(2, `${describe(learner)} not promoted now: ${(err as Error).message}`);
      return false;
    }
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------------------

/** The lifecycle action an event is about; reconcile passes have no token and name the instance instead. */
function actionRef(groupName: string, hookName: string, event: Pick<LifecycleEvent, 'instanceId' | 'token'>): LifecycleActionRef {
  return { groupName, hookName, instanceId: event.instanceId, ...(event.token !== '' && { token: event.token }) };
}

function heartbeater(deps: LifecycleDeps, ref: LifecycleActionRef): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < HEARTBEAT_EVERY_MS) return;
    last = Date.now();
    await deps.autoScaling.recordHeartbeat(ref);
  };
}

function planDetails(plan: Plan): Record<string, unknown> {
  if (plan.kind !== 'join') return { state: plan.kind === 'refuse' ? undefined : plan.settings.initialClusterState };
  return {
    removals: plan.removals.map((r) => ({ member: describe(r.member), reason: r.reason })),
    admission: plan.admission.kind === 'add' ? `add as ${plan.admission.asLearner ? 'learner' : 'voter'}` : `reuse ${describe(plan.admission.member)}`,
    checks: plan.checks.map((c) => `${c.step}: ${c.healthyVoters}/${c.voters} healthy, quorum ${c.quorum}`),
  };
}

function summary(r: ReconcileReport): string {
  const parts = [
    r.clusterReachable ? undefined : 'no member answers',
    r.launchesHandled.length > 0 ? `handled launches ${r.launchesHandled.join(', ')}` : undefined,
    r.terminationsHandled.length > 0 ? `handled terminations ${r.terminationsHandled.join(', ')}` : undefined,
    r.promoted.length > 0 ? `promoted ${r.promoted.join(', ')}` : undefined,
    r.removed.length > 0 ? `removed ${r.removed.join(', ')}` : undefined,
    r.deletedParameters.length > 0 ? `deleted parameters of ${r.deletedParameters.join(', ')}` : undefined,
    r.deferred.length > 0 ? `deferred ${r.deferred.length} step(s) to the next pass` : undefined,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? 'nothing to do: the cluster matches the group' : parts.join('; ');
}

function safeHost(url: string): string | undefined {
  try {
    return hostOf(url);
  } catch {
    return undefined;
  }
}

export function loggerFor(telemetry: Telemetry): Logger {
  return {
    debug: (_level, message, fields) => telemetry.debug(message, fields),
    info: (message, fields) => telemetry.info(message, fields),
    warn: (message, fields) => telemetry.warn(message, fields),
    error: (message, fields) => telemetry.error(message, fields),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export type { GroupInstanceView };
