// Join markers: a member that was added and has not started yet is "starting", not dead, while its marker
// lives, so the next joiner waits instead of removing it. Against the gateway double (no etcd), through the real
// client, health checks and join service.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Member } from '../../src/core/types.js';
import { memberIdToHex } from '../../src/core/ids.js';
import { clientFor, type EtcdConnection } from '../../src/services/connection.js';
import { runJoin, type JoinInput } from '../../src/services/join.js';
import { silentLogger, type Logger } from '../../src/services/log.js';
import { JOIN_MARKER_PREFIX, observeForPlanning } from '../../src/services/observe.js';
import { allocateAddresses, CLIENT_PORT, PEER_PORT, releaseAddresses } from '../harness/addresses.js';
import { EtcdGatewayDouble, type DoubleMember, startedDoubleMember } from './etcd-gateway-double.js';
import { BASE_ID } from './fixtures.js';

// Generous bounds: nothing here waits for a timeout (a member that is down refuses at once), and a loaded CI
// machine must not turn a slow first answer into "unreachable".
const connection: EtcdConnection = { requestTimeoutMs: 5000, healthTimeoutMs: 5000 };

describe('join markers', () => {
  let ips: string[];
  let members: DoubleMember[];
  let double: EtcdGatewayDouble;
  let warnings: string[];
  let warningFields: unknown[];
  const log: Logger = {
    ...silentLogger,
    warn: (message, fields) => {
      warnings.push(message);
      warningFields.push(fields);
    },
  };
  const id = (n: number): bigint => BASE_ID + BigInt(n);
  const marker = (n: number): string => `${JOIN_MARKER_PREFIX}${memberIdToHex(id(n))}`;

  before(async () => {
    ips = await allocateAddresses(5);
    const started = (n: number): DoubleMember => startedDoubleMember(ips, n, CLIENT_PORT, PEER_PORT);
    // n1-n3 healthy voters; n4 a learner that was added and has not started (no name, no client URLs).
    members = [
      started(1),
      started(2),
      started(3),
      { id: id(4), name: '', peerURLs: [`http://${ips[3]!}:${PEER_PORT}`], clientURLs: [], isLearner: true },
    ];
  });
  after(() => releaseAddresses(ips));
  beforeEach(async () => {
    await double?.close();
    double = new EtcdGatewayDouble(members);
    await double.start();
    warnings = [];
    warningFields = [];
  });
  after(async () => double.close());

  const observe = async () => {
    const client = clientFor([`http://${ips[0]!}:${CLIENT_PORT}`], connection);
    try {
      const observed = await observeForPlanning(client, connection, log);
      assert.equal(observed.kind, 'reachable');
      return observed.kind === 'reachable' ? observed.health : new Map<bigint, string>();
    } finally {
      client.close();
    }
  };

  test('an unstarted member with a live marker is starting (unknown), not dead', async () => {
    double.put(marker(4), 'n5');
    const health = await observe();
    assert.deepEqual(
      [1, 2, 3, 4].map((n) => health.get(id(n))),
      ['healthy', 'healthy', 'healthy', 'unknown'],
    );
    assert.deepEqual(warnings, []);
  });

  test('an unstarted member without a marker is unreachable (dead)', async () => {
    double.put(`${JOIN_MARKER_PREFIX}${memberIdToHex(id(9))}`, 'someone else');
    const health = await observe();
    assert.equal(health.get(id(4)), 'unreachable');
  });

  test('markers that cannot be read: every unstarted member is given the benefit of the doubt', async () => {
    double.refusing.add('/v3/kv/range');
    const health = await observe();
    assert.equal(health.get(id(4)), 'unknown');
    assert.deepEqual(warnings, ['could not read join markers; unstarted members are treated as still starting']);
  });

  test('a malformed marker is skipped with a warning; the others still count', async () => {
    double.put(`${JOIN_MARKER_PREFIX}not-an-id`, 'x');
    double.put(marker(4), 'n5');
    const health = await observe();
    assert.equal(health.get(id(4)), 'unknown');
    assert.deepEqual(warnings, ['ignoring a malformed join marker']);
    assert.deepEqual(warningFields, [{ key: `${JOIN_MARKER_PREFIX}not-an-id` }]);
  });

  test('a marker only speaks for an unstarted member: a started member that does not answer stays unreachable', async () => {
    double.put(marker(3), 'n3');
    await double.down(id(3));
    const health = await observe();
    assert.equal(health.get(id(3)), 'unreachable');
    assert.equal(health.get(id(4)), 'unreachable', 'no marker for n4');
    assert.deepEqual(double.operations.filter((op) => op === 'kv/range').length, 1);
  });

  test('no unstarted member: the markers are not even read', async () => {
    double.members = double.members.filter((m) => m.id !== id(4));
    await observe();
    assert.deepEqual(
      double.operations.filter((op) => op === 'kv/range'),
      [],
    );
  });

  describe('the next joiner (replace, size 4, dry run)', () => {
    const join = (): Promise<ReturnType<typeof runJoin> extends Promise<infer R> ? R : never> => {
      const input: JoinInput = {
        self: { name: 'n5', peerURLs: [`http://${ips[4]!}:${PEER_PORT}`] },
        dataDir: '/var/lib/etcd',
        dataDirFresh: true,
        strategy: 'replace',
        joinAs: 'learner',
        targetSize: 4,
        bootstrap: { kind: 'none' },
        endpoints: [`http://${ips[0]!}:${CLIENT_PORT}`],
        dryRun: true,
        connection,
        lockTimeoutMs: 1000,
        holder: 'test',
        log,
      };
      return runJoin(input);
    };

    test('waits while the added member is starting (join-in-progress), removing nothing', async () => {
      double.put(marker(4), 'n4');
      const result = await join();
      assert.equal(result.plan.kind, 'refuse');
      assert.equal(result.plan.kind === 'refuse' && result.plan.code, 'join-in-progress');
      assert.equal(result.executed, false);
      assert.equal(double.members.length, 4);
    });

    test('without the marker the same member is dead, and replace would remove it', async () => {
      const result = await join();
      assert.equal(result.plan.kind, 'join');
      const removed: Member[] = result.plan.kind === 'join' ? result.plan.removals.map((r) => r.member) : [];
      assert.deepEqual(
        removed.map((m) => m.id),
        [id(4)],
      );
    });
  });
});
