// The rescue rule (src/core/rescue.ts), pure: which survivor is snapshotted, when none is, whether a stored
// snapshot already holds every survivor, and whether a stored rescue falls short. Each boundary from both sides.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseRescueSource, rescueShortfall, snapshotCovers, type SurvivorStatus } from '../../src/core/rescue.js';
import { BASE_ID } from './fixtures.js';

const CLUSTER = 0x5ca1ab1e5ca1ab1en;

function survivor(n: number, extra: Partial<SurvivorStatus> = {}): SurvivorStatus {
  return {
    endpoint: `http://10.0.0.${n}:2379`,
    memberId: BASE_ID + BigInt(n),
    clusterId: CLUSTER,
    leader: 0n,
    raftIndex: 100n,
    raftAppliedIndex: 100n,
    revision: 50n,
    ...extra,
  };
}

function chosenEndpoint(survivors: SurvivorStatus[]): string {
  const choice = chooseRescueSource(survivors);
  assert.equal(
    choice.kind,
    'chosen',
    JSON.stringify(choice, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  );
  return choice.kind === 'chosen' ? choice.source.endpoint : '';
}

describe('choosing the survivor to snapshot', () => {
  test('the highest applied index wins, whatever the order given', () => {
    const a = survivor(1, { raftIndex: 120n, raftAppliedIndex: 110n, revision: 60n });
    const b = survivor(2, { raftIndex: 120n, raftAppliedIndex: 120n, revision: 60n });
    assert.equal(chosenEndpoint([a, b]), b.endpoint);
    assert.equal(chosenEndpoint([b, a]), b.endpoint);
  });

  test('equal applied index: the higher revision, then the first endpoint', () => {
    const x = survivor(3, { revision: 49n });
    const y = survivor(4, { revision: 51n });
    assert.equal(chosenEndpoint([x, y]), y.endpoint);
    assert.equal(chosenEndpoint([y, x]), y.endpoint);
    const p = survivor(5);
    const q = survivor(6);
    assert.equal(chosenEndpoint([q, p]), p.endpoint);
    assert.equal(chosenEndpoint([p, q]), p.endpoint);
  });

  test('the highest revision among all survivors is what the snapshot must reach', () => {
    const choice = chooseRescueSource([survivor(1, { revision: 40n }), survivor(2, { revision: 45n })]);
    assert.equal(choice.kind === 'chosen' && choice.highestRevision, 45n);
    assert.equal(choice.kind === 'chosen' && choice.clusterId, CLUSTER);
  });

  test('refused: no survivors, a survivor that knows a leader, survivors of two clusters, still applying', () => {
    const reason = (s: SurvivorStatus[]): string => {
      const c = chooseRescueSource(s);
      return c.kind === 'refused' ? c.reason : 'chosen';
    };
    assert.equal(reason([]), 'no-survivors');
    assert.equal(reason([survivor(1), survivor(2, { leader: BASE_ID + 1n })]), 'has-leader');
    assert.equal(reason([survivor(1), survivor(2, { clusterId: CLUSTER + 1n })]), 'mixed-clusters');
    const mixed = chooseRescueSource([survivor(1), survivor(2, { clusterId: 0xbeefn })]);
    assert.match(mixed.kind === 'refused' ? mixed.detail : '', /2 clusters \(5ca1ab1e5ca1ab1e, beef\)/);
    // The committed index to reach is the highest any survivor reports, wherever it stands in the list.
    const ahead = survivor(1, { raftIndex: 130n, raftAppliedIndex: 120n });
    const behind = survivor(2, { raftIndex: 100n, raftAppliedIndex: 100n });
    assert.equal(reason([ahead, behind]), 'still-applying');
    assert.equal(reason([behind, ahead]), 'still-applying');
    assert.equal(reason([survivor(1, { raftIndex: 101n, raftAppliedIndex: 100n })]), 'still-applying');
    assert.equal(reason([survivor(1, { raftIndex: 100n, raftAppliedIndex: 100n })]), 'chosen');
    // Another survivor knows of a commit the most advanced one has not applied.
    assert.equal(
      reason([survivor(1, { raftAppliedIndex: 100n, raftIndex: 100n }), survivor(2, { raftAppliedIndex: 90n, raftIndex: 105n })]),
      'still-applying',
    );
  });
});

describe('a stored snapshot covering the survivors', () => {
  const chosen = { clusterId: CLUSTER, highestRevision: 50n };
  const hex = CLUSTER.toString(16);

  test('the same cluster at a later revision covers; equal, earlier or another cluster does not', () => {
    assert.equal(snapshotCovers({ clusterId: hex, revision: '51' }, chosen), true);
    assert.equal(snapshotCovers({ clusterId: hex, revision: '50' }, chosen), false);
    assert.equal(snapshotCovers({ clusterId: hex, revision: '9' }, chosen), false, 'compared as numbers, not text');
    assert.equal(snapshotCovers({ clusterId: (CLUSTER + 1n).toString(16), revision: '99' }, chosen), false);
    assert.equal(snapshotCovers(undefined, chosen), false);
  });

  test('a stored rescue must be of this cluster and member, at or above every survivor', () => {
    const source = survivor(1);
    const full = { source, clusterId: CLUSTER, highestRevision: 50n };
    const good = { clusterId: hex, memberId: source.memberId.toString(16), revision: '50' };
    assert.equal(rescueShortfall(good, full), undefined);
    assert.equal(rescueShortfall({ ...good, revision: '51' }, full), undefined);
    assert.match(rescueShortfall({ ...good, revision: '49' }, full) ?? '', /below a survivor's 50/);
    assert.match(rescueShortfall({ ...good, memberId: 'abc' }, full) ?? '', /member abc/);
    assert.match(rescueShortfall({ ...good, clusterId: 'abc' }, full) ?? '', /cluster abc/);
  });
});
