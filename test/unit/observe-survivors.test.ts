// What the mutation run of the decision code found unchecked in src/services/observe.ts: the leader-confirmed
// observation passes the caller's cancellation on to the health checks of members it had not seen, and keeps the
// cause of a refused leader list; markJoining writes its marker under a lease, and a failure to write it is a
// warning, not an error. Against the gateway double (no etcd), through the real client and health checks.
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { memberIdToHex } from '../../src/core/ids.js';
import { clientFor, type EtcdConnection } from '../../src/services/connection.js';
import { silentLogger, type Logger } from '../../src/services/log.js';
import { JOIN_MARKER_PREFIX, markJoining, observeForPlanning } from '../../src/services/observe.js';
import { allocateAddresses, CLIENT_PORT, PEER_PORT, releaseAddresses } from '../harness/addresses.js';
import { EtcdGatewayDouble, type DoubleMember, startedDoubleMember } from './etcd-gateway-double.js';
import { BASE_ID } from './fixtures.js';

const connection: EtcdConnection = { requestTimeoutMs: 5000, healthTimeoutMs: 5000 };

describe('observation and join markers: what the mutants showed unchecked', () => {
  let ips: string[];
  let double: EtcdGatewayDouble;
  let warnings: { message: string; fields: unknown }[];
  let debugs: { level: number; message: string; fields: unknown }[];
  const log: Logger = {
    ...silentLogger,
    warn: (message, fields) => void warnings.push({ message, fields }),
    debug: (level, message, fields) => void debugs.push({ level, message, fields }),
  };
  const id = (n: number): bigint => BASE_ID + BigInt(n);
  const started = (n: number): DoubleMember => startedDoubleMember(ips, n, CLIENT_PORT, PEER_PORT);
  const endpoint = (n: number): string => `http://${ips[n - 1]!}:${CLIENT_PORT}`;
  const withClient = async <T>(fn: (client: ReturnType<typeof clientFor>) => Promise<T>, endpoints = [endpoint(1)]): Promise<T> => {
    const client = clientFor(endpoints, connection);
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  };

  before(async () => {
    ips = await allocateAddresses(4);
  });
  after(() => releaseAddresses(ips));
  beforeEach(() => {
    double = new EtcdGatewayDouble([started(1), started(2), started(3)]);
    warnings = [];
    debugs = [];
  });
  afterEach(async () => double.close());

  test('for a change: cancelled while checking a member only the leader listed, the observation is cancelled', async () => {
    // n4 answers on its client URL, but the first look (n1's list) does not name it: only the leader's list does.
    double.members.push(started(4));
    await double.start();
    const n4 = double.members.pop()!;
    const controller = new AbortController();
    let lists = 0;
    let checkingN4 = false;
    double.onOperation = (op) => {
      if (op === 'cluster/member/list' && ++lists === 2) {
        double.members.push(n4);
        checkingN4 = true;
      }
      if (op === 'maintenance/status' && checkingN4) controller.abort();
    };
    await assert.rejects(
      withClient((client) => observeForPlanning(client, connection, log, controller.signal, { forChange: true })),
      (err: Error & { code?: string }) => err.code === 'aborted',
    );
    assert.ok(checkingN4, 'the leader listed n4');
  });

  test('for a change: the refused leader list is kept as the cause of the error', async () => {
    await double.start();
    let lists = 0;
    double.onOperation = (op) => {
      if (op === 'cluster/member/list' && ++lists === 2) double.refusing.add('/v3/cluster/member/list');
    };
    await assert.rejects(
      withClient((client) => observeForPlanning(client, connection, log, undefined, { forChange: true })),
      (err: Error & { code?: string; cause?: Error & { code?: string } }) =>
        err.code === 'unavailable' && err.cause?.code === 'unavailable' && /request timed out/.test(err.cause.message),
    );
  });

  /** Runs `then` when the member list is asked for the second time: the leader's list, after the first look. */
  const onLeaderList = (then: () => void): void => {
    let lists = 0;
    double.onOperation = (op) => {
      if (op === 'cluster/member/list' && ++lists === 2) then();
    };
  };
  const statusChecksAfterLeaderList = (): number => {
    const lists = double.operations.flatMap((op, i) => (op === 'cluster/member/list' ? [i] : []));
    return double.operations.slice(lists[1]! + 1).filter((op) => op === 'maintenance/status').length;
  };

  test('not for a change: each endpoint is asked once for its list, and no leader list is asked for', async () => {
    await double.start();
    // Were the leader asked (a second list), this would make the observation fail.
    onLeaderList(() => double.refusing.add('/v3/cluster/member/list'));
    const observed = await withClient((client) => observeForPlanning(client, connection, log));
    assert.equal(observed.kind, 'reachable');
    assert.deepEqual(
      double.operations.filter((op) => op === 'cluster/member/list'),
      ['cluster/member/list'],
    );
  });

  test('for a change: members the first look saw unchanged are not checked again', async () => {
    await double.start();
    const observed = await withClient((client) => observeForPlanning(client, connection, log, undefined, { forChange: true }));
    assert.deepEqual(observed.kind === 'reachable' && [...observed.health.values()], ['healthy', 'healthy', 'healthy']);
    assert.equal(statusChecksAfterLeaderList(), 0);
  });

  test("for a change: a member the leader lists on another member's client URL is checked there (and is not that member)", async () => {
    await double.start();
    onLeaderList(() => {
      double.members = double.members.map((m) => (m.id === id(3) ? { ...m, clientURLs: [endpoint(2)] } : m));
    });
    const observed = await withClient((client) => observeForPlanning(client, connection, log, undefined, { forChange: true }));
    assert.equal(observed.kind === 'reachable' && observed.health.get(id(3)), 'unreachable', 'n2 answers there, as n2');
    assert.equal(statusChecksAfterLeaderList(), 1);
  });

  test('the debug log: each member with its health, peer URLs and role; no endpoint answering, with the endpoints and error', async () => {
    double.members.push({ id: id(4), name: '', peerURLs: [`http://${ips[3]!}:${PEER_PORT}`], clientURLs: [], isLearner: true });
    await double.start();
    double.put(`${JOIN_MARKER_PREFIX}${memberIdToHex(id(4))}`, 'n4');
    await withClient((client) => observeForPlanning(client, connection, log));
    const members = debugs.filter((d) => d.message.startsWith('member '));
    assert.deepEqual(
      members.map((d) => [d.level, d.message, d.fields]),
      [
        [4, `member n1 ${memberIdToHex(id(1))}: healthy`, { peerURLs: [`http://${ips[0]!}:${PEER_PORT}`], learner: false }],
        [4, `member n2 ${memberIdToHex(id(2))}: healthy`, { peerURLs: [`http://${ips[1]!}:${PEER_PORT}`], learner: false }],
        [4, `member n3 ${memberIdToHex(id(3))}: healthy`, { peerURLs: [`http://${ips[2]!}:${PEER_PORT}`], learner: false }],
        [4, `member (unstarted) ${memberIdToHex(id(4))}: unknown`, { peerURLs: [`http://${ips[3]!}:${PEER_PORT}`], learner: true }],
      ],
    );

    await double.close();
    debugs = [];
    const observed = await withClient((client) => observeForPlanning(client, connection, log));
    assert.deepEqual(observed, { kind: 'unreachable' });
    const [unreachable] = debugs;
    assert.equal(unreachable?.message, 'no etcd endpoint answered the member list');
    const fields = unreachable?.fields as { endpoints?: unknown; error?: unknown };
    assert.deepEqual(fields.endpoints, [endpoint(1)]);
    assert.equal(typeof fields.error, 'string');
  });

  test('markJoining writes the marker, named by the member ID, with the node name, under a lease', async () => {
    await double.start();
    await withClient((client) => markJoining(client, id(4), 'n4', 120, log));
    const markers = await withClient((client) => client.getPrefix(JOIN_MARKER_PREFIX));
    assert.deepEqual(
      markers.map((kv) => [kv.key, kv.value]),
      [[`${JOIN_MARKER_PREFIX}${memberIdToHex(id(4))}`, 'n4']],
    );
    assert.notEqual(markers[0]!.lease, 0n, 'the marker lives only as long as its lease');
    assert.deepEqual(double.operations.slice(0, 2), ['lease/grant', 'kv/txn']);
    assert.deepEqual(warnings, []);
  });

  test('markJoining that cannot write: a warning naming the member and the error, no exception, no marker', async () => {
    await double.start();
    double.refusing.add('/v3/kv/txn');
    await withClient((client) => markJoining(client, id(4), 'n4', 120, log));
    assert.deepEqual(
      warnings.map((w) => w.message),
      ['could not write the join marker'],
    );
    const fields = warnings[0]!.fields as { member?: unknown; error?: unknown };
    assert.equal(fields.member, memberIdToHex(id(4)));
    assert.match(String(fields.error), /request timed out/);
    double.refusing.delete('/v3/kv/txn');
    assert.deepEqual(await withClient((client) => client.getPrefix(JOIN_MARKER_PREFIX)), []);
  });
});
