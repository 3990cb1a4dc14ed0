// The join service against real etcd: the cluster lock, observe-plan-execute, crashes between steps,
// concurrent joiners and learner promotion.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient } from '../../src/adapters/etcd/index.js';
import { peerURLOf, clientURLOf, etcdctlMemberList, readStatus, startCluster, type EtcdCluster } from '../harness/index.js';
import { renderEnv } from '../../src/core/render.js';
import type { Plan } from '../../src/core/types.js';
import type { EtcdConnection } from '../../src/services/connection.js';
import { runJoin, type JoinInput } from '../../src/services/join.js';
import { LockTimeoutError, withClusterLock } from '../../src/services/lock.js';
import { silentLogger } from '../../src/services/log.js';
import { observeForPlanning } from '../../src/services/observe.js';
import { promoteWhenReady } from '../../src/services/promote.js';

const connection: EtcdConnection = { requestTimeoutMs: 2000, healthTimeoutMs: 1500 };

interface Asked {
  readonly what: string;
  readonly endpoint: string;
  readonly startedAt: number;
  endedAt: number;
}

/** Records each request to a single endpoint (status, member list) with when it started and ended. */
class RecordingClient extends EtcdClient {
  readonly asked: Asked[] = [];
  private async record<T>(what: string, endpoint: string, run: () => Promise<T>): Promise<T> {
    const entry: Asked = { what, endpoint, startedAt: performance.now(), endedAt: Number.POSITIVE_INFINITY };
    this.asked.push(entry);
    try {
      return await run();
    } finally {
      entry.endedAt = performance.now();
    }
  }
  override statusAt(...args: Parameters<EtcdClient['statusAt']>): ReturnType<EtcdClient['statusAt']> {
    return this.record('status', args[0], () => super.statusAt(...args));
  }
  override memberListAt(...args: Parameters<EtcdClient['memberListAt']>): ReturnType<EtcdClient['memberListAt']> {
    return this.record('member list', args[0], () => super.memberListAt(...args));
  }
}

function envOf(plan: Plan): Record<string, string> {
  assert.ok(plan.kind !== 'refuse', plan.kind === 'refuse' ? plan.message : '');
  return Object.fromEntries(
    renderEnv(plan.settings)
      .trim()
      .split('\n')
      .map((line) => {
        const [key, ...rest] = line.split('=');
        return [key!, JSON.parse(rest.join('=')) as string];
      }),
  );
}

function joinInput(cluster: EtcdCluster, ip: string, name: string, extra: Partial<JoinInput> = {}): JoinInput {
  return {
    self: { name, peerURLs: [peerURLOf(ip)] },
    dataDir: `${name}.etcd`,
    dataDirFresh: true,
    strategy: 'replace',
    joinAs: 'learner',
    targetSize: 3,
    bootstrap: { kind: 'none' },
    endpoints: cluster.members.map((m) => m.clientURL),
    dryRun: false,
    connection,
    lockTimeoutMs: 10_000,
    holder: name,
    log: silentLogger,
    ...extra,
  };
}

describe('cluster lock', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startCluster({ size: 1 });
  });
  after(async () => cluster.close());

  test('a second holder waits for the first, and times out naming the holder', async () => {
    const a = new EtcdClient({ endpoints: [cluster.members[0]!.clientURL] });
    const b = new EtcdClient({ endpoints: [cluster.members[0]!.clientURL] });
    try {
      const order: string[] = [];
      let releaseFirst!: () => void;
      const firstHolds = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstEntered!: () => void;
      const entered = new Promise<void>((resolve) => (firstEntered = resolve));
      const first = withClusterLock(a, { holder: 'first', timeoutMs: 5000, log: silentLogger }, async () => {
        order.push('first in');
        firstEntered();
        await firstHolds;
        order.push('first out');
      });
      await entered;
      await assert.rejects(
        withClusterLock(b, { holder: 'impatient', timeoutMs: 800, log: silentLogger }, () => Promise.resolve(order.push('impatient in'))),
        (err: unknown) => err instanceof LockTimeoutError && /first/.test(err.message),
      );
      const second = withClusterLock(b, { holder: 'second', timeoutMs: 10_000, log: silentLogger }, () =>
        Promise.resolve(order.push('second in')),
      );
      releaseFirst();
      await Promise.all([first, second]);
      assert.deepEqual(order, ['first in', 'first out', 'second in']);
    } finally {
      a.close();
      b.close();
    }
  });

  test('a holder that dies frees the lock when its lease expires', async () => {
    const client = new EtcdClient({ endpoints: [cluster.members[0]!.clientURL] });
    try {
      // Take the lock the way a crashed process would have left it: a live lease, never revoked.
      const lease = await client.leaseGrant(2);
      const put = await client.putIfAbsent('/elastic-etcd/lock', JSON.stringify({ holder: 'crashed' }), { leaseId: lease.id });
      assert.equal(put.created, true);
      const ran = await withClusterLock(client, { holder: 'next', timeoutMs: 10_000, log: silentLogger }, () => Promise.resolve('ran'));
      assert.equal(ran, 'ran');
    } finally {
      client.close();
    }
  });
});

describe('join: replace a dead member, crash between steps, concurrent joiners, promotion', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startCluster({ size: 3 });
  });
  after(async () => cluster.close());

  test('a crash after the removal leaves a state the next run finishes', async () => {
    const dead = cluster.members[2]!;
    await dead.kill();
    const ip = await cluster.allocateIp();
    const crash = (at: string) => (step: string) => {
      if (step === at) throw new Error(`simulated crash at ${step}`);
    };
    await assert.rejects(runJoin(joinInput(cluster, ip, 'n4', { faultPoint: crash('admit') })), /simulated crash at admit/);
    const afterCrash = await etcdctlMemberList([cluster.members[0]!.clientURL]);
    assert.equal(afterCrash.members.length, 2, 'the dead member was removed, nothing added yet');

    // The node restarts and runs again; this time it crashes after the add, before etcd starts.
    await assert.rejects(runJoin(joinInput(cluster, ip, 'n4', { faultPoint: crash('mark') })), /simulated crash at mark/);
    const added = (await etcdctlMemberList([cluster.members[0]!.clientURL])).members.filter((m) => m.peerURLs.includes(peerURLOf(ip)));
    assert.equal(added.length, 1);

    // Third run: reuses that member, never a second one for the same node.
    const result = await runJoin(joinInput(cluster, ip, 'n4'));
    assert.equal(result.plan.kind, 'join');
    assert.equal(result.plan.kind === 'join' && result.plan.admission.kind, 'reuse');
    assert.equal(result.admitted?.id, added[0]!.id);
    const list = await etcdctlMemberList([cluster.members[0]!.clientURL]);
    assert.equal(list.members.filter((m) => m.peerURLs.includes(peerURLOf(ip))).length, 1);

    // Start etcd with the plan's settings; the learner catches up and is promoted without an admin.
    const started = await cluster.startMember({ ip, settings: envOf(result.plan) });
    const promoted = await promoteWhenReady({
      self: { name: 'n4', peerURLs: [peerURLOf(ip)] },
      endpoints: [cluster.members[0]!.clientURL],
      connection,
      timeoutMs: 60_000,
      log: silentLogger,
    });
    assert.equal(promoted.outcome, 'promoted');
    const final = await etcdctlMemberList([started.clientURL]);
    assert.equal(final.members.length, 3);
    assert.ok(final.members.every((m) => !m.isLearner && m.name !== ''));
    assert.equal(
      (
        await promoteWhenReady({
          self: { name: 'n4', peerURLs: [peerURLOf(ip)] },
          endpoints: [clientURLOf(ip)],
          connection,
          timeoutMs: 5000,
          log: silentLogger,
        })
      ).outcome,
      'already-voter',
    );
  });

  test('two fresh nodes joining at the same moment: exactly one changes membership', async () => {
    const [ipA, ipB] = [await cluster.allocateIp(), await cluster.allocateIp()];
    const live = cluster.members.filter((m) => m.running);
    const endpoints = live.map((m) => m.clientURL);
    const before = await etcdctlMemberList(endpoints);
    const results = await Promise.all([
      runJoin({ ...joinInput(cluster, ipA, 'a'), targetSize: 5, strategy: 'add', endpoints }),
      runJoin({ ...joinInput(cluster, ipB, 'b'), targetSize: 5, strategy: 'add', endpoints }),
    ]);
    const executed = results.filter((r) => r.executed);
    assert.equal(executed.length, 1, 'one joiner added itself');
    const other = results.find((r) => !r.executed)!;
    assert.equal(other.plan.kind, 'refuse');
    assert.ok(
      other.plan.kind === 'refuse' && ['join-in-progress', 'learner-pending'].includes(other.plan.code),
      other.plan.kind === 'refuse' ? other.plan.code : '',
    );
    const afterJoin = await etcdctlMemberList(endpoints);
    assert.equal(afterJoin.members.length, before.members.length + 1);
  });
});

describe('observation with hung members', () => {
  let cluster: EtcdCluster;
  before(async () => {
    cluster = await startCluster({ size: 3 });
  });
  after(async () => cluster.close());

  const timeoutMs = 3000;
  const connection = { requestTimeoutMs: timeoutMs, healthTimeoutMs: timeoutMs };

  /** One observation through every member, timed, with every request to a single endpoint recorded. */
  async function observeTimed(): Promise<{
    observed: Awaited<ReturnType<typeof observeForPlanning>>;
    elapsed: number;
    asked: readonly Asked[];
  }> {
    const client = new RecordingClient({ endpoints: cluster.members.map((m) => m.clientURL) });
    try {
      const started = Date.now();
      const observed = await observeForPlanning(client, connection, silentLogger);
      return { observed, elapsed: Date.now() - started, asked: client.asked };
    } finally {
      client.close();
    }
  }

  function healthByName(observed: Awaited<ReturnType<typeof observeForPlanning>>): Record<string, string | undefined> {
    assert.equal(observed.kind, 'reachable');
    if (observed.kind !== 'reachable') return {};
    return Object.fromEntries(observed.members.map((m) => [m.name, observed.health.get(m.id)]));
  }

  test('a hung (SIGSTOPped) member costs one health timeout in all, and is unreachable', async () => {
    // Measured on the operation itself, not against the wall clock of a loaded machine: every request to the hung
    // member runs alongside the others to it (they overlap), so however many there are, they cost one timeout;
    // two in a row (the list probe, then the health check) would not overlap. The lower bound is safe under load.
    const hung = cluster.members[2]!;
    hung.stop();
    try {
      const { observed, elapsed, asked } = await observeTimed();
      assert.deepEqual(healthByName(observed), { m1: 'healthy', m2: 'healthy', m3: 'unreachable' });
      assert.ok(elapsed >= timeoutMs * 0.9, `it waited for the hung member (${elapsed} ms with a ${timeoutMs} ms timeout)`);
      const toHung = asked.filter((a) => a.endpoint === hung.clientURL);
      assert.ok(toHung.length > 0, `the hung member was asked: ${JSON.stringify(asked)}`);
      for (const a of toHung) {
        for (const b of toHung) {
          assert.ok(a.startedAt < b.endedAt && b.startedAt < a.endedAt, `requests to the hung member overlap: ${JSON.stringify(toHung)}`);
        }
      }
    } finally {
      hung.resume();
    }
  });

  test('a hung leader: the membership is still seen from the lists the members keep themselves, the leader unreachable', async () => {
    await Promise.all(cluster.members.map((m) => m.waitReady()));
    const status = await readStatus(cluster.members[0]!.clientURL, 2000);
    const leader = cluster.members.find((m) => m.id === status?.leader);
    assert.ok(leader !== undefined, 'a leader is known');
    leader.stop();
    try {
      const { observed } = await observeTimed();
      const health = healthByName(observed);
      assert.equal(health[leader.name], 'unreachable');
      assert.deepEqual(Object.keys(health).sort(), ['m1', 'm2', 'm3']);
    } finally {
      leader.resume();
    }
  });
});
