// lambda/handler.ts with an invalid function environment: every invocation fails with the one ConfigError
// that names each bad variable, before any AWS call. The module reads its configuration when imported.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/lambda/config.js';
import { startWorld, type World } from '../sim/world.js';

let world: World;
const saved = { ...process.env };

before(async () => {
  world = await startWorld({ seed: 5, boot: 'none' });
  await world.scaleTo(1);
  for (const [key, value] of Object.entries(world.env)) process.env[key] = value;
  process.env.ELASTIC_ETCD_CLUSTER_SIZE = 'three';
  process.env.ELASTIC_ETCD_CLIENT_PORT = '70000';
  delete process.env.ELASTIC_ETCD_LAUNCH_HOOK;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});

after(async () => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
  await world.close();
});

test('every invocation is refused with the variables to fix, and nothing is called', async () => {
  const { handler } = await import('../../lambda/handler.js');
  const from = world.cloud.calls.length;
  for (const event of [world.queue[0]!.event, world.group.testNotification()]) {
    await assert.rejects(handler(event), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => p.variable).sort(), [
        'ELASTIC_ETCD_CLIENT_PORT',
        'ELASTIC_ETCD_CLUSTER_SIZE',
        'ELASTIC_ETCD_LAUNCH_HOOK',
      ]);
      assert.match(err.message, /ELASTIC_ETCD_LAUNCH_HOOK is required/);
      assert.match(err.message, /ELASTIC_ETCD_CLUSTER_SIZE="three" is invalid/);
      return true;
    });
  }
  assert.equal(world.cloud.calls.length, from);
  assert.ok(world.group.pendingActions().length === 1);
});
