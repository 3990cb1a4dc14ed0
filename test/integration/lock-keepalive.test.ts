// The cluster lock's lease is kept alive while a change runs longer than its TTL, and the
// keep-alive stops with the release.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { EtcdClient } from '../../src/adapters/etcd/index.js';
import { startCluster, type EtcdCluster } from '../harness/index.js';
import { LOCK_KEY, LockTimeoutError, withClusterLock } from '../../src/services/lock.js';
import { silentLogger, type Logger } from '../../src/services/log.js';

describe('cluster lock keep-alive', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startCluster({ size: 1 });
  });
  after(async () => cluster.close());

  test('a change that outlives the lease TTL still holds the lock; a second holder cannot take it meanwhile', async () => {
    const a = new EtcdClient({ endpoints: [cluster.members[0]!.clientURL] });
    const b = new EtcdClient({ endpoints: [cluster.members[0]!.clientURL] });
    const errors: string[] = [];
    const log: Logger = { ...silentLogger, error: (m) => void errors.push(m) };
    try {
      let leaseOfLock: bigint | undefined;
      const ran = await withClusterLock(a, { holder: 'long-change', timeoutMs: 5000, ttlSeconds: 2, log }, async () => {
        leaseOfLock = (await a.get(LOCK_KEY))?.lease;
        // Three TTLs: without renewal the lease would have expired twice over.
        await delay(6000);
        const held = await a.get(LOCK_KEY);
        assert.ok(held !== undefined, 'the lock key still exists after 3 TTLs');
        assert.match(held.value, /long-change/);
        await assert.rejects(
          withClusterLock(b, { holder: 'intruder', timeoutMs: 1000, log: silentLogger }, () => Promise.resolve('intruded')),
          (err: unknown) => err instanceof LockTimeoutError && /long-change/.test(err.message),
        );
        return 'done';
      });
      assert.equal(ran, 'done');
      assert.deepEqual(errors, []);
      // Released: the key is gone at once, and the keep-alive stopped (the revoked lease stays unknown).
      assert.equal(await a.get(LOCK_KEY), undefined);
      assert.ok(leaseOfLock !== undefined && leaseOfLock !== 0n);
      await delay(1500);
      assert.equal(await a.leaseKeepAlive(leaseOfLock), 0, 'nobody renews or re-creates the released lease');
      assert.equal(await withClusterLock(b, { holder: 'next', timeoutMs: 2000, log: silentLogger }, () => Promise.resolve('next')), 'next');
    } finally {
      a.close();
      b.close();
    }
  });
});
