// The restore rule (src/core/restore.ts) as a table: both sides of every condition, and the helpers that
// choose the snapshot (accepted cluster IDs, lineage, order) and state the recovery point.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  acceptedClusterIds,
  blockingHolders,
  cannotComeBack,
  decideRestore,
  duration,
  lineageAfter,
  revisionsLost,
  type RestoreFacts,
} from '../../src/core/restore.js';

const lost: RestoreFacts = {
  autoRestore: true,
  formed: true,
  answering: false,
  downForMs: 600_000,
  restoreAfterMs: 600_000,
  holders: [
    { instanceId: 'i-0a', lifecycleState: undefined },
    { instanceId: 'i-0b', lifecycleState: 'Terminating:Wait' },
    { instanceId: 'i-0c', lifecycleState: 'Terminated' },
  ],
};
const request = { from: 'latest', requestedBy: 'arn:aws:iam::1:user/ops' };

describe('decideRestore', () => {
  const rows: { name: string; facts: RestoreFacts; kind: string; code?: string; trigger?: string; says?: RegExp }[] = [
    { name: 'all conditions hold: automatic restore', facts: lost, kind: 'restore', trigger: 'automatic' },
    // (1) wanted
    { name: '(1) automatic restores off, no request: none', facts: { ...lost, autoRestore: false }, kind: 'none' },
    {
      name: '(1) automatic off but a request: restore',
      facts: { ...lost, autoRestore: false, request },
      kind: 'restore',
      trigger: 'request',
    },
    // (2) formed and no member answers
    { name: '(2) never formed: none', facts: { ...lost, formed: false }, kind: 'none' },
    { name: '(2) never formed, even with a request: none', facts: { ...lost, formed: false, request }, kind: 'none' },
    { name: '(2) a member answers: none', facts: { ...lost, answering: true }, kind: 'none' },
    // (3) down long enough (automatic only)
    {
      name: '(3) down 1 ms too short: wait',
      facts: { ...lost, downForMs: 599_999 },
      kind: 'wait',
      code: 'restore-waiting',
      says: /down 9 min 59 s of 10 min/,
    },
    { name: '(3) down time unknown: wait', facts: { ...lost, downForMs: undefined }, kind: 'wait', code: 'restore-waiting' },
    { name: '(3) exactly the time: restore', facts: { ...lost, downForMs: 600_000 }, kind: 'restore', trigger: 'automatic' },
    {
      name: '(3) a request does not wait for the down time',
      facts: { ...lost, downForMs: 0, request },
      kind: 'restore',
      trigger: 'request',
      says: /by arn:aws:iam::1:user\/ops from latest/,
    },
    // (4) no holder can come back
    {
      name: '(4) a holder InService (etcd dead, hung or without quorum), down long enough: rescue its data first',
      facts: { ...lost, holders: [...lost.holders, { instanceId: 'i-0d', lifecycleState: 'InService' }] },
      kind: 'rescue',
      says: /instance i-0d \(InService\) that held data is live.*saved first/,
    },
    {
      name: '(4) a holder InService, down too briefly: cluster-down naming it, no rescue yet',
      facts: { ...lost, downForMs: 599_999, holders: [{ instanceId: 'i-0d', lifecycleState: 'InService' }] },
      kind: 'refuse',
      code: 'cluster-down',
      says: /instance i-0d \(InService\) that held data is live/,
    },
    {
      name: '(4) a holder InService, automatic restores off: cluster-down, no rescue',
      facts: { ...lost, autoRestore: false, request: undefined, holders: [{ instanceId: 'i-0d', lifecycleState: 'InService' }] },
      kind: 'none',
    },
    {
      name: '(4) a holder in Standby blocks the restore too (rescued first)',
      facts: { ...lost, holders: [{ instanceId: 'i-0e', lifecycleState: 'Standby' }] },
      kind: 'rescue',
    },
    {
      name: '(4) a holder live while a request is pending: restore-pending (waitable)',
      facts: { ...lost, request, holders: [{ instanceId: 'i-0d', lifecycleState: 'InService' }] },
      kind: 'wait',
      code: 'restore-pending',
      says: /scale the group to 0/,
    },
    {
      name: '(4) checked before (3): a live holder refuses even when down too briefly',
      facts: { ...lost, downForMs: 0, holders: [{ instanceId: 'i-0d', lifecycleState: 'Pending:Wait' }] },
      kind: 'refuse',
      code: 'cluster-down',
    },
    { name: '(4) no holder at all: restore', facts: { ...lost, holders: [] }, kind: 'restore' },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const verdict = decideRestore(row.facts);
      assert.equal(verdict.kind, row.kind, verdict.reason);
      if (verdict.kind === 'rescue')
        assert.deepEqual(
          verdict.survivors,
          blockingHolders(row.facts.holders).map((h) => h.instanceId),
        );
      if (row.code !== undefined) assert.equal((verdict as { code?: string }).code, row.code);
      if (row.trigger !== undefined) assert.equal((verdict as { trigger?: string }).trigger, row.trigger);
      if (row.says !== undefined) assert.match(verdict.reason, row.says);
    });
  }

  test('several live holders are named together; a request without an author names none', () => {
    const two = decideRestore({
      ...lost,
      downForMs: 0,
      holders: [
        { instanceId: 'i-0e', lifecycleState: 'Standby' },
        { instanceId: 'i-0d', lifecycleState: 'InService' },
      ],
    });
    assert.match(two.reason, /instances i-0d \(InService\), i-0e \(Standby\) that held data are live/);
    const one = decideRestore({ ...lost, holders: [], request: { from: 'latest' } });
    assert.equal(one.reason, 'restore requested from latest');
  });

  test('durations: seconds below a minute, whole minutes, minutes and seconds', () => {
    assert.equal(duration(59_999), '59 s');
    assert.equal(duration(60_000), '1 min');
    assert.equal(duration(250_000), '4 min 10 s');
    assert.equal(duration(-5), '0 s');
  });

  test('the waiting reason says how long down of how long needed', () => {
    const verdict = decideRestore({ ...lost, downForMs: 180_000 });
    assert.match(verdict.reason, /down 3 min of 10 min/);
  });
});

test('cannotComeBack: gone, Terminating:* and Terminated only', () => {
  for (const state of [undefined, 'Terminating', 'Terminating:Wait', 'Terminating:Proceed', 'Terminated'])
    assert.equal(cannotComeBack(state), true);
  for (const state of ['Pending', 'Pending:Wait', 'InService', 'Standby', 'EnteredStandby', 'Detaching', 'Warmed:Running'])
    assert.equal(cannotComeBack(state), false, state);
  assert.deepEqual(
    blockingHolders([
      { instanceId: 'i-2', lifecycleState: 'InService' },
      { instanceId: 'i-1', lifecycleState: 'Standby' },
      { instanceId: 'i-3', lifecycleState: undefined },
    ]).map((h) => h.instanceId),
    ['i-1', 'i-2'],
  );
  // Already in order stays in order (a comparator that always says "before" would swap it).
  assert.deepEqual(
    blockingHolders([
      { instanceId: 'i-1', lifecycleState: 'InService' },
      { instanceId: 'i-2', lifecycleState: 'InService' },
    ]).map((h) => h.instanceId),
    ['i-1', 'i-2'],
  );
});

test('accepted cluster IDs: the record and its lineage; a record without an ID accepts any', () => {
  assert.equal(acceptedClusterIds({}), undefined);
  assert.deepEqual([...acceptedClusterIds({ clusterId: 'a1', lineage: ['b2', 'c3'] })!], ['a1', 'b2', 'c3']);
  assert.deepEqual([...acceptedClusterIds({ clusterId: 'a1' })!], ['a1']);
  assert.deepEqual([...acceptedClusterIds({ lineage: ['b2'] })!], ['b2'], 'a restore wave not formed yet: its lineage');
  assert.deepEqual(lineageAfter({ clusterId: 'a1', lineage: ['b2'] }), ['a1', 'b2']);
  assert.deepEqual(lineageAfter({ lineage: ['b2'] }), ['b2']);
  assert.deepEqual(lineageAfter({ clusterId: 'a1', lineage: ['a1'] }), ['a1']);
});

test('revisions lost: observed less the snapshot, never negative, unknown across clusters or without an observation', () => {
  assert.equal(revisionsLost({ revision: '10', clusterId: 'a' }, { revision: '25', clusterId: 'a' }), 15n);
  assert.equal(revisionsLost({ revision: '30', clusterId: 'a' }, { revision: '25', clusterId: 'a' }), 0n);
  assert.equal(revisionsLost({ revision: '10', clusterId: 'a' }, { revision: '25', clusterId: 'b' }), undefined);
  assert.equal(revisionsLost({ revision: '10', clusterId: 'a' }, undefined), undefined);
});

test('durations read as people say them', () => {
  assert.equal(duration(0), '0 s');
  assert.equal(duration(59_400), '59 s');
  assert.equal(duration(600_000), '10 min');
  assert.equal(duration(250_000), '4 min 10 s');
});
