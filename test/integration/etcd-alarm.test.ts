// The etcd adapter's alarm list (Maintenance Alarm, action GET) and the DB size in use, against real etcd.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EtcdClient } from '../../src/adapters/etcd/index.js';
import { etcdctl, startCluster, tryJson } from '../harness/index.js';

test('alarm list: none, then the NOSPACE alarm a member raised, then none once disarmed', async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.after(() => cluster.close());
  const endpoint = cluster.clientURLs[0]!;
  const client = new EtcdClient({ endpoints: [endpoint], requestTimeoutMs: 5_000 });
  t.after(() => client.close());

  assert.deepEqual(await client.alarmListAt(endpoint), []);
  const status = await client.statusAt(endpoint);
  assert.ok(status.dbSizeInUse !== undefined && status.dbSizeInUse > 0n && status.dbSizeInUse <= status.dbSize, 'DB size in use');

  // What etcd does when a write exceeds the space quota, done through the same API: the alarm, raised by this member.
  const activated = await tryJson(`${endpoint}/v3/maintenance/alarm`, {
    method: 'POST',
    body: { action: 'ACTIVATE', memberID: status.memberId.toString(), alarm: 'NOSPACE' },
  });
  assert.ok(activated !== undefined);
  assert.deepEqual(await client.alarmListAt(endpoint, { timeoutMs: 2_000 }), [{ memberId: status.memberId, alarm: 'NOSPACE' }]);
  assert.ok(
    (await client.statusAt(endpoint)).errors.some((e) => e.includes('NOSPACE')),
    'status errors name the alarm too',
  );
  // etcdctl sees the same alarm, and disarms it.
  const listed = await etcdctl([endpoint], ['alarm', 'list']);
  assert.match(listed.stdout, /alarm:NOSPACE/);
  assert.equal((await etcdctl([endpoint], ['alarm', 'disarm'])).exitCode, 0);
  assert.deepEqual(await client.alarmListAt(endpoint), []);
});
