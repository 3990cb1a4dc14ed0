// The lifecycle action a decision completes, and the heartbeat that keeps it waiting while the decision waits.
import type { LifecycleActionRef } from '../adapters/aws/index.js';
import type { LifecycleDeps } from './deps.js';
import type { LifecycleEvent } from './events.js';
import { HEARTBEAT_EVERY_MS } from './timing.js';

/** The lifecycle action an event is about; reconcile passes have no token and name the instance instead. */
export function actionRef(groupName: string, hookName: string, event: Pick<LifecycleEvent, 'instanceId' | 'token'>): LifecycleActionRef {
  return { groupName, hookName, instanceId: event.instanceId, ...(event.token !== '' && { token: event.token }) };
}

/** A heartbeat to call while waiting: it records one at most every HEARTBEAT_EVERY_MS. */
export function heartbeater(deps: LifecycleDeps, ref: LifecycleActionRef): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < HEARTBEAT_EVERY_MS) return;
    last = Date.now();
    await deps.autoScaling.recordHeartbeat(ref);
  };
}
