// The etcd adapter's upkeep calls (compaction, defragmentation of one member, the NOSPACE disarm) against real etcd
// started with the space quota and auto-compaction as the drop-in renders them: fill the quota until etcd refuses
// writes with NOSPACE, then compact, defragment and disarm, and writes succeed again.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { settingsEntries } from '../../src/core/render.js';
import { EtcdClient, isEtcdError } from '../../src/adapters/etcd/index.js';
import { EtcdCluster, peerURLOf } from '../harness/index.js';

const QUOTA = 4 * 1024 * 1024;
const VALUE = Buffer.alloc(200 * 1024, 'x').toString('base64');

/** A put over the gateway: undefined when it succeeded, else etcd's error text. */
async function put(endpoint: string, key: string): Promise<string | undefined> {
  const response = await fetch(`${endpoint}/v3/kv/put`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: VALUE }),
    signal: AbortSignal.timeout(5_000),
  });
  if (response.ok) return undefined;
  const body = (await response.json()) as { error?: string; message?: string };
  return body.error ?? body.message ?? String(response.status);
}

test('compact, defragment and disarm bring a member that hit its quota back to writable', async (t) => {
  const cluster = EtcdCluster.create();
  t.after(() => cluster.close());
  const ip = await cluster.allocateIp();
  // The settings as the Lambda's drop-in carries them (render.ts), so the ETCD_* names are the ones etcd reads.
  const rendered = Object.fromEntries(
    settingsEntries({
      name: 'm1',
      dataDir: 'data',
      initialAdvertisePeerURLs: [peerURLOf(ip)],
      initialClusterState: 'new',
      initialCluster: [{ name: 'm1', peerURL: peerURLOf(ip) }],
      initialClusterToken: 'upkeep',
      quotaBackendBytes: QUOTA,
      autoCompaction: { mode: 'periodic', retention: '1h' },
    }),
  );
  const member = await cluster.startMember({ ip, settings: rendered });
  const endpoint = member.clientURL;
  const client = new EtcdClient({ endpoints: [endpoint], requestTimeoutMs: 5_000 });
  t.after(() => client.close());
  const log = readFileSync(member.logPath, 'utf8');
  for (const name of ['ETCD_QUOTA_BACKEND_BYTES', 'ETCD_AUTO_COMPACTION_MODE', 'ETCD_AUTO_COMPACTION_RETENTION']) {
    // 3.4 logs "recognized and used environment variable NAME=value", 3.5 the same message with "variable-name".
    assert.match(log, new RegExp(`(?<!un)recognized and used environment variable.{0,40}${name}`), `etcd read ${name}`);
  }

  // Overwrite one key until the history fills the quota: etcd raises NOSPACE and refuses writes.
  let refused: string | undefined;
  for (let i = 0; i < 200 && refused === undefined; i++) refused = await put(endpoint, 'fill');
  assert.match(refused ?? 'never refused', /database space exceeded/, 'etcd read ETCD_QUOTA_BACKEND_BYTES');
  const { memberId } = await client.statusAt(endpoint);
  assert.deepEqual(await client.alarmListAt(endpoint), [{ memberId, alarm: 'NOSPACE' }]);

  // Compaction frees the old revisions inside the database; a second one at the same revision has nothing to do.
  const before = await client.statusAt(endpoint);
  assert.equal(await client.compact(before.revision!), true);
  assert.equal(await client.compact(before.revision!), false, 'already compacted');
  // No assertion on dbSizeInUse here: 3.4 updates it only when a later write commits, and NOSPACE refuses writes.
  const compacted = await client.statusAt(endpoint);
  assert.ok(compacted.dbSize >= before.dbSize, 'compaction alone never shrinks the database');
  assert.match((await put(endpoint, 'fill')) ?? '', /database space exceeded/, 'still armed');

  // Defragmentation gives the free space back; disarming then lets writes through again.
  await client.defragmentAt(endpoint, { timeoutMs: 30_000 });
  const defragmented = await client.statusAt(endpoint);
  assert.ok(defragmented.dbSize < BigInt(QUOTA / 2), `database after defragmentation: ${defragmented.dbSize}`);
  await client.alarmDisarm(memberId, 'NOSPACE');
  assert.deepEqual(await client.alarmListAt(endpoint), []);
  assert.equal(await put(endpoint, 'fill'), undefined, 'writable again');
  await client.alarmDisarm(memberId, 'NOSPACE'); // disarming again is harmless

  // A future revision is etcd's error, not a silent success.
  await assert.rejects(client.compact(defragmented.revision! + 1000n), (err) => isEtcdError(err) && /future revision/.test(err.message));
});
