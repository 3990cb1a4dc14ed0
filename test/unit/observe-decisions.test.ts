// The observation a membership decision is made on (observeForPlanning): cancellation reaches every request,
// a change is decided only on the member list the leader confirms, and candidate endpoints of two clusters are
// reported. Against the gateway double (no etcd), through the real client and health checks.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { memberIdToHex } from '../../src/core/ids.js';
import { clientFor, type EtcdConnection } from '../../src/services/connection.js';
import { silentLogger, type Logger } from '../../src/services/log.js';
import { JOIN_MARKER_PREFIX, observeForPlanning, type ObserveOptions } from '../../src/services/observe.js';
import { allocateAddresses, CLIENT_PORT, PEER_PORT, releaseAddresses } from '../harness/addresses.js';
import { EtcdGatewayDouble, type DoubleMember, startedDoubleMember, unstartedDoubleMember } from './etcd-gateway-double.js';
import { BASE_ID } from './fixtures.js';

const connection: EtcdConnection = { requestTimeoutMs: 5000, healthTimeoutMs: 5000 };

describe('observing for a decision', () => {
  let ips: string[];
  let double: EtcdGatewayDouble;
  let other: EtcdGatewayDouble | undefined;
  let warnings: { message: string; fields: unknown }[];
  const log: Logger = { ...silentLogger, warn: (message, fields) => void warnings.push({ message, fields }) };
  const id = (n: number): bigint => BASE_ID + BigInt(n);
  const started = (n: number): DoubleMember => startedDoubleMember(ips, n, CLIENT_PORT, PEER_PORT);
  const unstarted = (n: number): DoubleMember => unstartedDoubleMember(ips, n, PEER_PORT);
  const endpoint = (n: number): string => `http://${ips[n - 1]!}:${CLIENT_PORT}`;

  before(async () => {
    ips = await allocateAddresses(6);
  });
  after(() => releaseAddresses(ips));
  beforeEach(async () => {
    double = new EtcdGatewayDouble([started(1), started(2), started(3)]);
    await double.start();
    warnings = [];
  });
  afterEach(async () => {
    await double.close();
    await other?.close();
    other = undefined;
  });

  const observe = async (endpoints: string[], signal?: AbortSignal, options?: ObserveOptions) => {
    const client = clientFor(endpoints, connection);
    try {
      return await observeForPlanning(client, connection, log, signal, options);
    } finally {
      client.close();
    }
  };

  test('a cancelled observation is cancelled, not answered', async () => {
    await assert.rejects(observe([endpoint(1)], AbortSignal.abort()), (err: Error & { code?: string }) => err.code === 'aborted');
  });

  test('cancelled while reading the join markers: the cancellation wins (not "markers unreadable, assume starting")', async () => {
    double.members.push(unstarted(4));
    const controller = new AbortController();
    double.onOperation = (op) => {
      if (op === 'kv/range') controller.abort();
    };
    await assert.rejects(observe([endpoint(1)], controller.signal), (err: Error & { code?: string }) => err.code === 'aborted');
    assert.deepEqual(warnings, []);
  });

  test('markers that cannot be read: the warning carries the error', async () => {
    double.members.push(unstarted(4));
    double.refusing.add('/v3/kv/range');
    const observed = await observe([endpoint(1)]);
    assert.equal(observed.kind === 'reachable' && observed.health.get(id(4)), 'unknown');
    assert.equal(warnings.length, 1);
    assert.match(String((warnings[0]!.fields as { error?: unknown }).error), /request timed out/);
  });

  test('a live marker is read with the same cancellation: an unstarted member with one is starting', async () => {
    double.members.push(unstarted(4));
    double.put(`${JOIN_MARKER_PREFIX}${memberIdToHex(id(4))}`, 'n4');
    const observed = await observe([endpoint(1)], new AbortController().signal);
    assert.equal(observed.kind === 'reachable' && observed.health.get(id(4)), 'unknown');
  });

  test('candidate endpoints of two clusters: the one most of them agree on is used, and a warning names it', async () => {
    other = new EtcdGatewayDouble([started(5)]);
    other.clusterId = 0x2c1a55n;
    await other.start();
    const observed = await observe([endpoint(1), endpoint(2), endpoint(5)]);
    assert.equal(observed.kind, 'reachable');
    assert.deepEqual(observed.kind === 'reachable' && observed.members.map((m) => m.name), ['n1', 'n2', 'n3']);
    assert.deepEqual(warnings, [
      {
        message: 'candidate endpoints belong to different clusters; using the one most of them agree on',
        fields: { clusters: 2, clusterId: double.clusterId.toString(16) },
      },
    ]);
  });

  test('one cluster: no warning', async () => {
    await observe([endpoint(1), endpoint(2)]);
    assert.deepEqual(warnings, []);
  });

  describe('for a change (confirmed through the leader)', () => {
    const forChange: ObserveOptions = { forChange: true };
    /** Runs `then` when the member list is asked for the second time: the leader's list, after the observation. */
    const onLeaderList = (then: () => void): void => {
      let lists = 0;
      double.onOperation = (op) => {
        if (op === 'cluster/member/list' && ++lists === 2) then();
      };
    };

    test('the member list the leader answers is the one decided on, and a member it adds is health-checked', async () => {
      double.members.push({ ...started(4) });
      // n4 is down; the first look (n1 only) does not know it yet.
      const n4 = double.members.pop()!;
      onLeaderList(() => double.members.push(n4));
      const observed = await observe([endpoint(1)], undefined, forChange);
      assert.equal(observed.kind, 'reachable');
      if (observed.kind !== 'reachable') return;
      assert.deepEqual(
        observed.members.map((m) => m.name),
        ['n1', 'n2', 'n3', 'n4'],
      );
      assert.equal(observed.health.get(id(4)), 'unreachable', 'n4 was checked');
      assert.equal(observed.health.get(id(1)), 'healthy');
    });

    test('a member whose client URLs changed since the first look is checked again', async () => {
      onLeaderList(() => {
        double.members = double.members.map((m) => (m.id === id(3) ? { ...m, clientURLs: [endpoint(6)] } : m));
      });
      const observed = await observe([endpoint(1)], undefined, forChange);
      assert.equal(observed.kind === 'reachable' && observed.health.get(id(3)), 'unreachable', 'nothing answers on its new URL');
    });

    test('no leader list (the members stop answering it): no change is decided, the error says why', async () => {
      onLeaderList(() => double.refusing.add('/v3/cluster/member/list'));
      await assert.rejects(
        observe([endpoint(1)], undefined, forChange),
        (err: Error & { code?: string }) =>
          err.code === 'unavailable' &&
          /no member answered the member list through the leader, so no membership change is made/.test(err.message),
      );
    });

    test('any other error of the leader list is passed on as it is', async () => {
      onLeaderList(() =>
        double.failNext.set('/v3/cluster/member/list', { status: 403, message: 'etcdserver: permission denied', code: 7, times: 1 }),
      );
      await assert.rejects(observe([endpoint(1)], undefined, forChange), (err: Error & { code?: string }) => err.code === 'auth-required');
    });

    test('the leader answers for another cluster: no change is decided', async () => {
      onLeaderList(() => {
        double.clusterId = 0x0ab1en;
      });
      await assert.rejects(
        observe([endpoint(1)], undefined, forChange),
        /the leader answered for cluster ab1e, not the observed 5ca1ab1e5ca1ab1e; no change is made/,
      );
    });

    test('cancelled while asking the leader: cancelled', async () => {
      const controller = new AbortController();
      onLeaderList(() => controller.abort());
      await assert.rejects(
        observe([endpoint(1)], controller.signal, forChange),
        (err: Error & { code?: string }) => err.code === 'aborted',
      );
    });
  });
});
