// The health history in real etcd (src/services/health-history.ts): a member's unhealthy start is recorded
// once and kept by later observations (create-only), cleared when it answers, and a malformed record is
// replaced rather than hiding the member for good.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../../src/adapters/etcd/index.js';
import { memberIdToHex } from '../../src/core/ids.js';
import type { Health, Member } from '../../src/core/types.js';
import { HEALTH_PREFIX, readHealthHistory, updateHealthHistory } from '../../src/services/health-history.js';
import { silentLogger } from '../../src/services/log.js';
import { startCluster, type EtcdCluster } from '../harness/index.js';

const ghost: Member = {
  id: 0xabcdef0123456789n,
  name: 'ghost',
  peerURLs: ['http://10.9.9.9:2380'],
  clientURLs: ['http://10.9.9.9:2379'],
  isLearner: false,
};

describe('the health history in etcd', () => {
  let cluster: EtcdCluster;
  let client: EtcdClient;
  before(async () => {
    cluster = await startCluster({ size: 1 });
    client = new EtcdClient({ endpoints: [cluster.members[0]!.clientURL] });
  });
  after(async () => {
    client.close();
    await cluster.close();
  });

  const observe = (health: Health, now: number) =>
    updateHealthHistory(client, { members: [ghost], health: new Map([[ghost.id, health]]) }, now, silentLogger);

  test('recorded at the first miss, kept by later misses, cleared by an answer', async () => {
    assert.equal((await observe('unreachable', 1_000_000)).get(ghost.id), 1_000_000);
    assert.equal((await observe('unreachable', 1_060_000)).get(ghost.id), 1_000_000, 'the start stays the first miss');
    assert.equal((await readHealthHistory(client, silentLogger)).get(ghost.id), 1_000_000);
    assert.equal((await observe('unknown', 1_070_000)).get(ghost.id), 1_000_000, 'unknown is no evidence either way');
    assert.equal((await observe('healthy', 1_080_000)).has(ghost.id), false);
    assert.equal((await readHealthHistory(client, silentLogger)).has(ghost.id), false);
    assert.equal((await observe('unreachable', 1_090_000)).get(ghost.id), 1_090_000, 'after an answer it starts again');
    await observe('healthy', 1_100_000);
  });

  test('a malformed record is replaced', async () => {
    await client.putIfAbsent(`${HEALTH_PREFIX}${memberIdToHex(ghost.id)}`, 'not json');
    assert.equal((await readHealthHistory(client, silentLogger)).has(ghost.id), false);
    assert.equal((await observe('unreachable', 2_000_000)).get(ghost.id), 2_000_000);
    assert.equal((await readHealthHistory(client, silentLogger)).get(ghost.id), 2_000_000);
  });
});
