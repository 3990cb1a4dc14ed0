// The terminate lifecycle action: remove the leaving instance's member when the quorum allows, hold the
// termination while it does not, delete the instance's parameters, and complete with CONTINUE.
import { isUnstarted } from '../core/members.js';
import type { Member } from '../core/types.js';
import { actionRef, heartbeater } from './action.js';
import type { LifecycleDeps } from './deps.js';
import { RetryLaterError } from './errors.js';
import type { LifecycleEvent } from './events.js';
import { loadGroup, safeHost } from './group.js';
import { removeMember, type RemovalOutcome } from './members.js';
import { waitBudgetMs } from './timing.js';
import { restoreRequested } from './restore.js';

/**
 * The termination of `event.instanceId`: its member is removed when the quorum allows, the action is held
 * (heartbeats, then a retry) while it does not, then its parameters are deleted and the action completed with
 * CONTINUE. A reconcile pass passes no token and completes by instance ID. Safe to run twice for one instance.
 */
export async function handleTerminate(event: Pick<LifecycleEvent, 'instanceId' | 'token'>, deps: LifecycleDeps): Promise<RemovalOutcome> {
  const { config, telemetry } = deps;
  const started = Date.now();
  const { instanceId } = event;
  const ref = actionRef(config.autoScalingGroup, config.terminateHook, event);
  const group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  const ip = group.instances.get(instanceId)?.privateIp;
  const isTarget = (m: Member): boolean =>
    m.name === instanceId || (ip !== undefined && m.peerURLs.some((u) => safeHost(u) === ip) && (isUnstarted(m) || m.name === instanceId));
  const why = `instance ${instanceId} is terminating`;
  if (await restoreRequested(deps)) {
    // The cluster is being replaced from a snapshot: its members are left as they are (removing them could only
    // cost the old cluster a quorum it may never get back, and the restored cluster never contains them).
    telemetry.decision({
      trigger: 'terminate',
      instanceId,
      decision: 'keep',
      reason: `${why} while a restore is requested: the cluster is being replaced, its members are left alone`,
    });
    deps.faultPoint?.('delete-parameters');
    await deps.parameters.deleteInstance(instanceId);
    await deps.autoScaling.completeLifecycleAction(ref, 'CONTINUE');
    telemetry.latency('Terminate', Date.now() - started);
    return 'kept';
  }
  let outcome = await removeMember(group, { isTarget, why }, deps);
  if (outcome === 'unsafe') {
    // The machine still runs and still counts for the quorum: hold its termination (the hook waits, kept alive
    // by heartbeats) until removing it is safe, rather than let the group take a voter the quorum needs.
    const heartbeat = heartbeater(deps, ref);
    const deadline = Date.now() + Math.min(deps.unsafeRecheckMs, waitBudgetMs(deps.remainingMs()));
    while (outcome === 'unsafe' && Date.now() < deadline) {
      await heartbeat();
      await deps.sleep(deps.pollMs);
      outcome = await removeMember(group, { isTarget, why }, deps);
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
