// The scheduled reconcile pass: converges the cluster to the group, the safety net for lost, late and failed events.
import { errorMessage } from '../core/errors.js';
import type { Member } from '../core/types.js';
import { isEtcdError } from '../adapters/etcd/index.js';
import { clientFor } from '../services/connection.js';
import type { LifecycleDeps } from './deps.js';
import { candidateEndpoints, loadGroup, liveInstances, safeHost, type GroupView } from './group.js';
import { healUnhealthyMembers } from './heal.js';
import { handleLaunch } from './launch.js';
import { noteClusterAnswers, noteClusterDown } from './restore.js';
import { readBootstrapRecord } from './first-wave.js';
import { backUpWhenDue, type BackupOutcome } from './backup.js';
import { promoteReadyLearners, removeGoneMembers } from './members.js';
import { handleTerminate } from './terminate.js';
import { emitPassMetrics, observePass } from './metrics.js';
import type { StatusOutcome } from '../services/status.js';
import { isTlsSetupError, prepareTls, renewCertificates, type TlsContext } from './tls.js';
import { keepUp, type UpkeepOutcome } from './upkeep.js';

export interface ReconcileReport {
  readonly promoted: string[];
  readonly removed: string[];
  readonly deletedParameters: string[];
  readonly launchesHandled: string[];
  readonly terminationsHandled: string[];
  /** InService instances that never got a launch action (missed launches), planned and configured now. */
  readonly adopted: string[];
  /** Pending actions that could not be finished in this pass, with why; the next pass tries again. */
  readonly deferred: string[];
  /** Instances reported Unhealthy to the group: their members stayed unhealthy past the threshold (heal.ts). */
  readonly reportedUnhealthy: string[];
  /** Member (instance IDs) and client certificates (names) re-issued: missing, unusable or due (tls.ts). */
  readonly renewedCertificates: string[];
  clusterReachable: boolean;
  /** What the backup step did (backup.ts); absent when the cluster did not answer. */
  backup?: BackupOutcome;
  /** etcd's upkeep this pass (upkeep.ts): at most one compaction, defragmentation or disarm; absent when not run. */
  upkeep?: UpkeepOutcome;
}

/**
 * Converges the cluster to the group; the safety net for lost, late and failed events. Order matters:
 * members of instances that are gone first (etcd 3.4 refuses any add while a voter is down, and a dead voter
 * blocks promotions), then learners are promoted BEFORE pending terminations are handled (a healthy voter's
 * termination is held while a learner is pending: promoting first lets a rolling update move on),
 * then pending launches and missed launches (InService instances never configured), then promotions again, then
 * certificate renewal (tls.ts: member and client certificates missing, unusable or due), then backups, then etcd's
 * upkeep (upkeep.ts: one compaction, defragmentation or NOSPACE disarm at most), then orphaned parameters.
 * One step failing does not stop the others. With TLS on, every etcd call is mutual TLS; a CA that cannot be used
 * changes nothing but abandoning pending launches.
 */
export async function reconcile(plainDeps: LifecycleDeps): Promise<ReconcileReport> {
  let deps = plainDeps;
  const { config, telemetry } = deps;
  const report: ReconcileReport = {
    promoted: [],
    removed: [],
    deletedParameters: [],
    launchesHandled: [],
    terminationsHandled: [],
    adopted: [],
    deferred: [],
    reportedUnhealthy: [],
    renewedCertificates: [],
    clusterReachable: false,
  };
  const attempt = async (what: string, step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (err) {
      const reason = errorMessage(err);
      report.deferred.push(`${what}: ${reason}`);
      telemetry.warn('a reconcile step must wait for a later pass', { step: what, reason });
    }
  };
  let group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  let tls: TlsContext | undefined;
  try {
    tls = await prepareTls(deps);
    if (tls !== undefined) deps = tls.deps;
  } catch (err) {
    if (!isTlsSetupError(err)) throw err;
    // Without a usable CA no call to etcd can be made (and none is made without TLS): nothing changes but pending
    // launches, which are abandoned (each finds the same CA and refuses), never started insecurely.
    telemetry.error('the cluster certificate authority cannot be used; nothing was changed', { error: err.message });
    report.deferred.push(`tls: ${err.message}`);
    for (const instance of [...group.instances.values()].filter((i) => i.lifecycleState === 'Pending:Wait')) {
      await attempt(`launch ${instance.instanceId}`, async () => {
        await handleLaunch({ instanceId: instance.instanceId, token: '' }, deps);
        report.launchesHandled.push(instance.instanceId);
      });
    }
    telemetry.decision({ trigger: 'reconcile', decision: 'reconciled', reason: summary(report), details: { ...report } });
    await emitPassMetrics(group, deps, { observe: false });
    return report;
  }
  await attempt('remove members of gone instances', async () => {
    const gone = await removeGoneMembers(group, deps);
    report.clusterReachable = gone.reachable;
    report.removed.push(...gone.removed);
    if (gone.reachable) await noteClusterAnswers(group, deps);
    else if ((await readBootstrapRecord(deps))?.formedAt !== undefined) await noteClusterDown(deps);
  });
  await attempt('promote learners', async () => {
    report.promoted.push(...(await promoteReadyLearners(group, deps)));
  });

  for (const instance of [...group.instances.values()].filter((i) => i.lifecycleState === 'Terminating:Wait')) {
    await attempt(`terminate ${instance.instanceId}`, async () => {
      await handleTerminate({ instanceId: instance.instanceId, token: '' }, deps);
      report.terminationsHandled.push(instance.instanceId);
    });
  }
  group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  for (const instance of [...group.instances.values()].filter((i) => i.lifecycleState === 'Pending:Wait')) {
    await attempt(`launch ${instance.instanceId}`, async () => {
      await handleLaunch({ instanceId: instance.instanceId, token: '' }, deps);
      report.launchesHandled.push(instance.instanceId);
    });
  }
  group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  let missed: string[] = [];
  await attempt('look for missed launches', async () => {
    missed = await missedLaunches(group, deps);
  });
  for (const instanceId of missed) {
    await attempt(`adopt ${instanceId}`, async () => {
      const outcome = await handleLaunch({ instanceId, token: '' }, deps, 'adopt');
      if (outcome === 'continue') report.adopted.push(instanceId);
    });
  }
  if (missed.length > 0) group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  await attempt('promote learners', async () => {
    report.promoted.push(...(await promoteReadyLearners(group, deps)));
  });
  await attempt('heal unhealthy members', async () => {
    report.reportedUnhealthy.push(...(await healUnhealthyMembers(group, deps)).reported);
  });

  if (tls !== undefined) {
    const context = { ...tls, deps };
    await attempt('renew certificates', async () => {
      const renewed = await renewCertificates(group, context);
      report.renewedCertificates.push(...renewed.members, ...renewed.clients.map((name) => `client ${name}`));
    });
  }

  if (report.clusterReachable && deps.backups !== undefined) report.backup = await backUpWhenDue(group, deps, 'reconcile');
  // After the membership work, on a cluster that answers: one upkeep action at most (it checks the quorum margin itself).
  // Its observation serves the metrics too, unless an action changed what it saw.
  let observed: StatusOutcome | undefined;
  if (report.clusterReachable) {
    await attempt('upkeep', async () => {
      const seen = await observePass(group, deps);
      report.upkeep = await keepUp(group, deps, seen);
      if (report.upkeep.compacted !== true && ['none', 'refuse', 'unobserved'].includes(report.upkeep.action)) observed = seen;
    });
  }
  // Parameters of instances that are gone: only those this deployment wrote (tagged with its group).
  const live = new Set(liveInstances(group).map((i) => i.instanceId));
  for (const id of await deps.parameters.listInstanceIds()) {
    if (live.has(id)) continue;
    const { deleted, kept } = await deps.parameters.deleteOwnInstanceFiles(id);
    if (deleted.length > 0) report.deletedParameters.push(id);
    if (kept.length > 0) telemetry.info('kept parameters another deployment (or an older version) wrote', { instanceId: id, kept });
  }
  telemetry.decision({
    trigger: 'reconcile',
    decision: 'reconciled',
    reason: summary(report),
    details: { ...report },
  });
  await emitPassMetrics(group, deps, { observe: true, ...(observed !== undefined && { observed }) });
  return report;
}

/**
 * Missed launches: InService instances of the group with neither parameters nor a member (by name or address).
 * Hooks apply only to launches after they exist, so an instance launched before them (CloudFormation creates the
 * group's first instances before separate hook resources) goes straight to InService and would wait for ever.
 */
async function missedLaunches(group: GroupView, deps: LifecycleDeps): Promise<string[]> {
  const inService = liveInstances(group).filter((i) => i.lifecycleState === 'InService' && i.privateIp !== undefined);
  if (inService.length === 0) return [];
  const configured = new Set(await deps.parameters.listInstanceIds());
  const unconfigured = inService.filter((i) => !configured.has(i.instanceId));
  if (unconfigured.length === 0) return [];
  const client = clientFor(candidateEndpoints(group, deps.config), deps.connection);
  let members: readonly Member[] = [];
  try {
    members = (await client.memberList()).members;
  } catch (err) {
    if (!isEtcdError(err, 'unavailable') && !isEtcdError(err, 'timeout')) throw err;
  } finally {
    client.close();
  }
  return unconfigured
    .filter((i) => !members.some((m) => m.name === i.instanceId || m.peerURLs.some((u) => safeHost(u) === i.privateIp)))
    .map((i) => i.instanceId);
}

function summary(r: ReconcileReport): string {
  const parts = [
    r.clusterReachable ? undefined : 'no member answers',
    r.launchesHandled.length > 0 ? `handled launches ${r.launchesHandled.join(', ')}` : undefined,
    r.terminationsHandled.length > 0 ? `handled terminations ${r.terminationsHandled.join(', ')}` : undefined,
    r.adopted.length > 0 ? `adopted missed launches ${r.adopted.join(', ')}` : undefined,
    r.promoted.length > 0 ? `promoted ${r.promoted.join(', ')}` : undefined,
    r.removed.length > 0 ? `removed ${r.removed.join(', ')}` : undefined,
    r.deletedParameters.length > 0 ? `deleted parameters of ${r.deletedParameters.join(', ')}` : undefined,
    r.reportedUnhealthy.length > 0 ? `reported unhealthy ${r.reportedUnhealthy.join(', ')}` : undefined,
    r.renewedCertificates.length > 0 ? `renewed certificates of ${r.renewedCertificates.join(', ')}` : undefined,
    r.upkeep !== undefined && r.upkeep.action !== 'none' && r.upkeep.action !== 'unobserved' ? `upkeep: ${r.upkeep.reason}` : undefined,
    r.deferred.length > 0 ? `deferred ${r.deferred.length} step(s) to the next pass` : undefined,
  ].filter((p) => p !== undefined);
  return parts.length === 0 ? 'nothing to do: the cluster matches the group' : parts.join('; ');
}
