// Health checks, cluster observation, fail-over timing, and the KV/lease surface against real etcd 3.4.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient, checkMembersHealth, isEtcdError, observeCluster } from '../../src/adapters/etcd/index.js';
import type { Member } from '../../src/core/types.js';
import { etcdctlMemberList, startCluster } from '../harness/index.js';

const TIMEOUT_MS = 1000;

/** Records every status request (which endpoint, when it started and ended), to check concurrency on the
 * operation itself instead of against the wall clock of a loaded machine. */
class RecordingClient extends EtcdClient {
  readonly asked: { endpoint: string; startedAt: number; endedAt: number }[] = [];
  override async statusAt(
    endpoint: string,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): ReturnType<EtcdClient['statusAt']> {
    const entry = { endpoint, startedAt: performance.now(), endedAt: Number.POSITIVE_INFINITY };
    this.asked.push(entry);
    try {
      return await super.statusAt(endpoint, options);
    } finally {
      entry.endedAt = performance.now();
    }
  }
}

test('health and observation: healthy members, a SIGSTOPped member, a foreign cluster, no cluster', async (t) => {
  const [cluster, foreign] = await Promise.all([startCluster({ size: 3 }), startCluster({ size: 1 })]);
  t.after(() => Promise.all([cluster.close(), foreign.close()]));
  const [m1, m2, m3] = cluster.members;
  assert.ok(m1 && m2 && m3);
  const client = new EtcdClient({ endpoints: cluster.clientURLs, requestTimeoutMs: TIMEOUT_MS });
  t.after(() => client.close());

  await t.test('all members healthy, cluster ID as etcdctl sees it', async () => {
    const view = await observeCluster(client, { timeoutMs: TIMEOUT_MS });
    assert.equal(view.kind, 'reachable');
    if (view.kind !== 'reachable') return;
    assert.equal(view.clusterId, (await etcdctlMemberList(cluster.clientURLs)).clusterId);
    assert.deepEqual([...view.health.values()], ['healthy', 'healthy', 'healthy']);
    assert.deepEqual(new Set(view.health.keys()), new Set([m1.id, m2.id, m3.id]));
  });

  await t.test('a member of another cluster, or another member at the address, is unreachable', async () => {
    const list = await client.memberList();
    const listed1 = list.members.find((m) => m.id === m1.id);
    assert.ok(listed1);
    const posingAsForeign: Member = { ...listed1, clientURLs: [foreign.clientURLs[0] ?? ''] };
    const posingAsM2: Member = { ...listed1, clientURLs: [m2.clientURL] };
    const unstarted: Member = { id: 42n, name: '', peerURLs: ['http://127.0.0.1:2380'], clientURLs: [], isLearner: true };
    const health = await checkMembersHealth(client, [posingAsForeign, posingAsM2, unstarted], list.clusterId, { timeoutMs: TIMEOUT_MS });
    assert.equal(health.get(listed1.id), 'unreachable');
    assert.equal(health.get(42n), 'unreachable');
    // Sanity: the same member on its real URL is healthy, so the verdict above came from the ID checks.
    assert.equal((await checkMembersHealth(client, [listed1], list.clusterId)).get(listed1.id), 'healthy');
  });

  await t.test('a SIGSTOPped member costs one timeout: health checks run in parallel, and fail-over moves on', async () => {
    m2.stop();
    try {
      const observer = new RecordingClient({ endpoints: [m1.clientURL], requestTimeoutMs: TIMEOUT_MS });
      t.after(() => observer.close());
      const view = await observeCluster(observer, { timeoutMs: TIMEOUT_MS });
      assert.equal(view.kind, 'reachable');
      if (view.kind !== 'reachable') return;
      assert.equal(view.health.get(m2.id ?? 0n), 'unreachable');
      assert.equal(view.health.get(m1.id ?? 0n), 'healthy');
      assert.equal(view.health.get(m3.id ?? 0n), 'healthy');
      // One timeout, not two: the stopped member is asked once; and the other member's check ran alongside it,
      // not after it (their requests overlap), which is what keeps the cost at one timeout however many hang.
      const askedOf = (url: string) => observer.asked.filter((a) => a.endpoint === url);
      assert.equal(askedOf(m2.clientURL).length, 1, JSON.stringify(observer.asked));
      const [stopped] = askedOf(m2.clientURL);
      const [healthy] = askedOf(m3.clientURL);
      assert.ok(stopped && healthy, JSON.stringify(observer.asked));
      assert.ok(
        healthy.startedAt < stopped.endedAt && stopped.startedAt < healthy.endedAt,
        `the checks overlap: ${JSON.stringify(observer.asked)}`,
      );

      // Stopped endpoint first: one timeout, then the next endpoint answers (and is preferred afterwards). The
      // lower bound is safe under load (the timeout must run out); the upper bound is the client's own deadline
      // of three timeouts, which fails the call (not a clock comparison) if the stopped endpoint held it longer.
      const stoppedFirst = new EtcdClient({
        endpoints: [m2.clientURL, m3.clientURL],
        requestTimeoutMs: TIMEOUT_MS,
        deadlineMs: 3 * TIMEOUT_MS,
      });
      t.after(() => stoppedFirst.close());
      const t0 = Date.now();
      const list = await stoppedFirst.memberList();
      const failoverElapsed = Date.now() - t0;
      assert.equal(list.endpoint, m3.clientURL);
      assert.ok(
        failoverElapsed >= TIMEOUT_MS * 0.9,
        `fail-over took ${failoverElapsed} ms: the stopped endpoint was tried first and waited out`,
      );
    } finally {
      m2.resume();
    }
  });

  await t.test('a stopped sole endpoint: timeout when the deadline runs out, unavailable when endpoints do; abort', async () => {
    m2.stop();
    try {
      const only = new EtcdClient({ endpoints: [m2.clientURL], requestTimeoutMs: TIMEOUT_MS, deadlineMs: 500 });
      t.after(() => only.close());
      await assert.rejects(only.status(), (err) => isEtcdError(err, 'timeout'));
      await assert.rejects(
        only.status({ deadlineMs: 5000 }),
        (err) => isEtcdError(err, 'unavailable') && isEtcdError(err.cause, 'timeout'),
      );
      const controller = new AbortController();
      const pending = only.status({ signal: controller.signal, deadlineMs: 5000 });
      controller.abort();
      await assert.rejects(pending, (err) => isEtcdError(err, 'aborted'));
    } finally {
      m2.resume();
    }
  });

  await t.test('no endpoint answers: unreachable', async () => {
    await foreign.close();
    const gone = new EtcdClient({ endpoints: foreign.clientURLs, requestTimeoutMs: TIMEOUT_MS });
    t.after(() => gone.close());
    const view = await observeCluster(gone);
    assert.equal(view.kind, 'unreachable');
    assert.equal(await observeCluster(new EtcdClient({ endpoints: [] })).then((v) => v.kind), 'unreachable');
  });
});

test('leases and keys: put-if-absent with a lease, range, prefix, delete, revoke', async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.after(() => cluster.close());
  const client = new EtcdClient({ endpoints: cluster.clientURLs });
  t.after(() => client.close());

  const lease = await client.leaseGrant(30);
  assert.ok(lease.id > 0n);
  assert.equal(lease.ttlSeconds, 30);
  const first = await client.putIfAbsent('/elastic-etcd/lock', 'holder-a ünicode', { leaseId: lease.id });
  assert.equal(first.created, true);
  const second = await client.putIfAbsent('/elastic-etcd/lock', 'holder-b');
  assert.equal(second.created, false);
  assert.equal(second.existing?.value, 'holder-a ünicode');
  assert.equal(second.existing?.lease, lease.id);

  await client.putIfAbsent('/elastic-etcd/joins/a', '1');
  await client.putIfAbsent('/elastic-etcd/joins/b', '2');
  await client.putIfAbsent('/elastic-etcd/joinsX', 'not under the prefix');
  assert.deepEqual(
    (await client.getPrefix('/elastic-etcd/joins/')).map((kv) => [kv.key, kv.value]),
    [
      ['/elastic-etcd/joins/a', '1'],
      ['/elastic-etcd/joins/b', '2'],
    ],
  );
  assert.equal(await client.delete('/elastic-etcd/joins/', { prefix: true }), 2);
  assert.equal(await client.delete('/elastic-etcd/joinsX'), 1);
  assert.equal(await client.get('/elastic-etcd/joins/a'), undefined);

  await client.leaseRevoke(lease.id);
  assert.equal(await client.get('/elastic-etcd/lock'), undefined, 'revoking the lease deletes its keys');
  await assert.rejects(client.leaseRevoke(lease.id), (err) => isEtcdError(err, 'lease-not-found'));
});
