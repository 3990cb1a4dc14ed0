// The setup the fast decision tests of the Lambda share: a simulated group of three in-service instances (the
// simulated cloud, the real handler) with no member booted, so that the etcd gateway double can serve their
// cluster on the instances' own addresses (doubleVoters).
import assert from 'node:assert/strict';
import { startWorld, type World } from '../sim/world.js';

/**
 * A fresh world (seed 15) scaled to three in-service instances, none booted, and their IDs sorted (the order
 * doubleVoters numbers them in). Plain HTTP (`tls: false`): the double speaks HTTP only. A removal's hold loop
 * re-checks every 50 ms for `unsafeRecheckMs`.
 */
export async function startBareGroupOfThree(unsafeRecheckMs: number): Promise<{ world: World; ids: string[] }> {
  const world = await startWorld({ seed: 15, boot: 'none', clusterSize: 3, unsafeRecheckMs, handlerPollMs: 50, tls: false });
  await world.scaleTo(3);
  await world.runUntilQuiet({ reconcile: 'never' });
  const ids = world.inService().sort();
  assert.equal(ids.length, 3);
  return { world, ids };
}
