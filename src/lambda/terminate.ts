// The terminate lifecycle action: remove the leaving instance's member when the quorum allows, hold the
// termination while it does not, delete the instance's parameters, and complete with CONTINUE.
import { isUnstarted } from '../core/members.js';
import type { Member } from '../core/types.js';
import { actionRef, heartbeater, RESERVE_MS, RetryLaterError, safeHost, sleep, type LifecycleDeps } from './common.js';
import type { LifecycleEvent } from './events.js';
import { loadGroup } from './group.js';
import { removeMember, type TerminateOutcome } from './members.js';

export async function handleTerminate(event: Pick<LifecycleEvent, 'instanceId' | 'token'>, deps: LifecycleDeps): Promise<TerminateOutcome> {
  const { config, telemetry } = deps;
  const started = Date.now();
  const { instanceId } = event;
  const ref = actionRef(config.autoScalingGroup, config.terminateHook, event);
  const group = await loadGroup(config.autoScalingGroup, deps.autoScaling, deps.ec2);
  const ip = group.instances.get(instanceId)?.privateIp;
  const isTarget = (m: Member): boolean =>
    m.name === instanceId || (ip !== undefined && m.peerURLs.some((u) => safeHost(u) === ip) && (isUnstarted(m) || m.name === instanceId));
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
