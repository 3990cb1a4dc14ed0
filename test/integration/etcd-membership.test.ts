// The etcd adapter's membership calls and their error mapping, against a real 3-member cluster of the etcd
// ETCD_VERSION selects (npm test runs it on 3.4 and 3.5).
// The error texts asserted here are the ones etcd really answers (see src/adapters/etcd/errors.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient, isEtcdError, type EtcdError } from '../../src/adapters/etcd/index.js';
import type { Member } from '../../src/core/types.js';
import { etcdctlMemberList, etcdServerVersion, peerURLOf, pollUntil, selectedEtcdVersion, startCluster } from '../harness/index.js';

/** etcd refuses reconfiguration for ~5 s after members start ("unhealthy cluster"): retry that, bounded. */
async function retryWhileUnhealthy<T>(fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  return pollUntil(
    async () => {
      try {
        return await fn();
      } catch (err) {
        if (isEtcdError(err, 'unhealthy-cluster')) return undefined;
        throw err;
      }
    },
    { timeoutMs, intervalMs: 250, what: 'etcd to accept a membership change' },
  );
}

async function expectEtcdError(promise: Promise<unknown>, code: EtcdError['code'], message: RegExp): Promise<EtcdError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isEtcdError(err), `expected an EtcdError, got ${String(err)}`);
    assert.equal(err.code, code, `code for ${err.message}`);
    assert.match(err.etcdMessage ?? '', message);
    return err;
  }
  assert.fail(`expected an EtcdError ${code}`);
}

test('membership against real etcd: list, add, promote, remove, update, and every error mapping', async (t) => {
  const cluster = await startCluster({ size: 3 });
  t.after(() => cluster.close());
  const [m1, m2, m3] = cluster.members;
  assert.ok(m1 && m2 && m3);
  const client = new EtcdClient({ endpoints: cluster.clientURLs, requestTimeoutMs: 2000 });
  t.after(() => client.close());

  await t.test('version, health and status', async () => {
    const version = selectedEtcdVersion();
    assert.deepEqual(await client.getVersion(), { server: etcdServerVersion(version), cluster: `${version}.0` });
    assert.equal(await client.health(), true);
    const status = await client.status();
    assert.notEqual(status.leader, 0n);
    assert.ok([m1.id, m2.id, m3.id].includes(status.memberId));
  });

  await t.test('member list: IDs are bigint and round-trip losslessly (etcdctl agrees)', async () => {
    const list = await client.memberList();
    const reference = await etcdctlMemberList(cluster.clientURLs);
    assert.equal(list.clusterId, reference.clusterId);
    const byId = (a: { id: bigint }, b: { id: bigint }): number => (a.id < b.id ? -1 : 1);
    assert.deepEqual(
      [...list.members]
        .sort(byId)
        .map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs, isLearner: m.isLearner })),
      [...reference.members].sort(byId),
    );
    // etcd IDs are random uint64s: practically always some lie above 2^53, where a JS number would corrupt them.
    assert.ok(
      list.members.some((m) => m.id > BigInt(Number.MAX_SAFE_INTEGER)),
      'some ID exceeds 2^53',
    );
  });

  const newIp = await cluster.allocateIp();
  let learner: Member | undefined;

  await t.test('add a learner: unstarted, no name, no client URLs', async () => {
    const added = await retryWhileUnhealthy(() => client.memberAdd([peerURLOf(newIp)], { asLearner: true }));
    learner = added.member;
    assert.equal(learner.name, '');
    assert.deepEqual(learner.clientURLs, []);
    assert.deepEqual(learner.peerURLs, [peerURLOf(newIp)]);
    assert.equal(learner.isLearner, true);
    assert.equal(added.members.length, 4);
    const reference = await etcdctlMemberList(cluster.clientURLs);
    assert.ok(reference.members.some((m) => m.id === learner?.id && m.isLearner));
  });

  await t.test('errors: too many learners, learner not ready, peer URL exists, member not found, not a learner', async () => {
    assert.ok(learner);
    const ip2 = await cluster.allocateIp();
    await expectEtcdError(client.memberAdd([peerURLOf(ip2)], { asLearner: true }), 'too-many-learners', /too many learner members/);
    await expectEtcdError(client.memberPromote(learner.id), 'learner-not-ready', /in sync with leader/);
    await expectEtcdError(client.memberAdd([m2.peerURL], { asLearner: false }), 'peer-url-exists', /Peer URLs already exists/);
    await expectEtcdError(client.memberRemove(123n), 'member-not-found', /member not found/);
    await expectEtcdError(client.memberPromote(m1.id ?? 0n), 'member-not-learner', /can only promote a learner member$/);
    await expectEtcdError(client.memberAdd(['http://not a url'], { asLearner: false }), 'invalid-argument', /member URLs are invalid/);
  });

  await t.test('start the learner with the planned settings, then promote it once in sync', async () => {
    assert.ok(learner);
    const initialCluster = [...cluster.members.map((m) => `${m.name}=${m.peerURL}`), `m4=${peerURLOf(newIp)}`].join(',');
    const m4 = await cluster.startMember({
      ip: newIp,
      settings: { ETCD_NAME: 'm4', ETCD_INITIAL_CLUSTER: initialCluster, ETCD_INITIAL_CLUSTER_STATE: 'existing' },
    });
    assert.equal(m4.id, learner.id);
    const learnerId = learner.id;
    await pollUntil(async () => ((await client.learnerProgress(learnerId)).probablyInSync ? true : undefined), {
      timeoutMs: 15_000,
      what: 'the learner to catch up',
    });
    const members = await pollUntil(
      async () => {
        try {
          return await client.memberPromote(learnerId);
        } catch (err) {
          if (isEtcdError(err, 'learner-not-ready') || isEtcdError(err, 'unhealthy-cluster')) return undefined;
          throw err;
        }
      },
      { timeoutMs: 15_000, what: 'the promotion' },
    );
    assert.equal(members.find((m) => m.id === learnerId)?.isLearner, false);
    const reference = await etcdctlMemberList(cluster.clientURLs);
    assert.equal(reference.members.find((m) => m.id === learnerId)?.name, 'm4');
    assert.equal(reference.members.find((m) => m.id === learnerId)?.isLearner, false);

    // Remove it again (a 4-voter cluster with one stopped member would have no fault tolerance left).
    await m4.kill();
    const after = await retryWhileUnhealthy(() => client.memberRemove(learnerId));
    assert.equal(after.length, 3);
  });

  await t.test('update peer URLs of a member', async () => {
    const ip = await cluster.allocateIp();
    const added = await retryWhileUnhealthy(() => client.memberAdd([peerURLOf(ip)], { asLearner: true }));
    const otherIp = await cluster.allocateIp();
    const updated = await client.memberUpdate(added.member.id, [peerURLOf(otherIp)]);
    assert.deepEqual(updated.find((m) => m.id === added.member.id)?.peerURLs, [peerURLOf(otherIp)]);
    await client.memberRemove(added.member.id);
  });

  await t.test('one of three killed: add answers unhealthy-cluster (code 14), and fail-over skips the dead endpoint', async () => {
    // A follower: killing the leader starts an election, and a request in flight then fails with "leader
    // changed" (seen on etcd 3.5), which is not what this test is about.
    const { leader } = await client.status();
    const victim = m3.id === leader ? m2 : m3;
    await victim.kill();
    const ip = await cluster.allocateIp();
    const err = await expectEtcdError(client.memberAdd([peerURLOf(ip)], { asLearner: true }), 'unhealthy-cluster', /unhealthy cluster/);
    assert.equal(err.grpcCode, 14);
    const deadFirst = new EtcdClient({ endpoints: [victim.clientURL, m1.clientURL], requestTimeoutMs: 2000 });
    t.after(() => deadFirst.close());
    const list = await deadFirst.memberList();
    assert.equal(list.endpoint, m1.clientURL);
    assert.equal(list.members.length, 3);
  });
});
