// Table-driven tests of the join planner, rule by rule. Each suite and case name states its rule in words; the
// tags in front are labels only: B1-B13 number the original tool's bugs, one per case that would fail on the
// original's behaviour (the comment says how), and 3.x/R1-R6 are the section and rule numbers of the written
// specification the planner was built from.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { planJoin } from '../../src/core/planner.js';
import type { Plan } from '../../src/core/types.js';
import { BASE_ID, member, observe, options, peer, unstarted } from './fixtures.js';

const DISCOVERY = 'https://discovery.etcd.io/abc';

function joined(plan: Plan): Extract<Plan, { kind: 'join' }> {
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? `refused: ${plan.code}: ${plan.message}` : plan.kind);
  return plan;
}
function refused(plan: Plan, code: string): Extract<Plan, { kind: 'refuse' }> {
  assert.equal(plan.kind, 'refuse', `expected a refusal, got ${plan.kind}`);
  const r = plan;
  assert.equal(r.code, code, r.message);
  assert.ok(r.message.length > 20, 'a refusal says why in a sentence');
  return r;
}
const removedNumbers = (plan: Plan): number[] => joined(plan).removals.map((r) => Number(r.member.id - BASE_ID));
const clusterEntries = (plan: Plan): string[] => (joined(plan).settings.initialCluster ?? []).map((e) => `${e.name}=${e.peerURL}`);

describe('3.3 classification when no member answers', () => {
  for (const registered of [0, 1, 2]) {
    test(`discovery registry ${registered} of 3, fresh: bootstrap through discovery`, () => {
      const plan = planJoin(
        observe('unreachable', { bootstrap: { kind: 'discovery', url: DISCOVERY, size: 3, registered } }),
        options('replace'),
      );
      assert.equal(plan.kind, 'bootstrap');
      assert.deepEqual(plan.kind === 'bootstrap' && plan.settings, {
        name: 'n9',
        dataDir: 'n9.etcd',
        initialAdvertisePeerURLs: [peer(9)],
        initialClusterState: 'new',
        discovery: DISCOVERY,
      });
    });
  }
  test('registry full (3 of 3), nobody answers, fresh: refused as cluster down', () => {
    refused(
      planJoin(observe('unreachable', { bootstrap: { kind: 'discovery', url: DISCOVERY, size: 3, registered: 3 } }), options('replace')),
      'cluster-down',
    );
  });
  test('B12: registry larger than the size (4 of 3), nobody answers: cluster down, not a second bootstrap', () => {
    // The original classified this as NEW and bootstrapped on a full token.
    refused(
      planJoin(observe('unreachable', { bootstrap: { kind: 'discovery', url: DISCOVERY, size: 3, registered: 4 } }), options('add')),
      'cluster-down',
    );
  });
  test('down, not fresh: resume from the data dir, state existing, no discovery, no initial cluster', () => {
    const plan = planJoin(
      observe('unreachable', { fresh: false, bootstrap: { kind: 'discovery', url: DISCOVERY, size: 3, registered: 3 } }),
      options('replace', { dataDir: '/var/lib/etcd2' }),
    );
    assert.equal(plan.kind, 'resume');
    assert.deepEqual(plan.kind === 'resume' && plan.settings, {
      name: 'n9',
      dataDir: '/var/lib/etcd2',
      initialAdvertisePeerURLs: [peer(9)],
      initialClusterState: 'existing',
    });
  });
  test('static bootstrap record that names this node: bootstrap with that initial cluster and token', () => {
    const plan = planJoin(
      observe('unreachable', {
        self: { name: 'b', peerURLs: [peer(2)] },
        bootstrap: {
          kind: 'static',
          token: 'tok-1',
          members: [
            { name: 'c', peerURLs: [peer(3)] },
            { name: 'a', peerURLs: [peer(1)] },
            { name: 'b', peerURLs: [peer(2)] },
          ],
        },
      }),
      options('replace'),
    );
    assert.equal(plan.kind, 'bootstrap');
    if (plan.kind !== 'bootstrap') return;
    assert.equal(plan.settings.initialClusterState, 'new');
    assert.equal(plan.settings.initialClusterToken, 'tok-1');
    assert.deepEqual(
      plan.settings.initialCluster?.map((e) => `${e.name}=${e.peerURL}`),
      [`b=${peer(2)}`, `a=${peer(1)}`, `c=${peer(3)}`],
    );
  });
  test('static bootstrap record without this node: refused while the first wave forms', () => {
    refused(
      planJoin(
        observe('unreachable', { bootstrap: { kind: 'static', token: 't', members: [{ name: 'a', peerURLs: [peer(1)] }] } }),
        options('replace'),
      ),
      'bootstrap-in-progress',
    );
  });
  test('no bootstrap source and nobody answers: refused', () => {
    refused(planJoin(observe('unreachable'), options('replace')), 'no-bootstrap-source');
  });
  test('R6: a cluster that answers is joined, however few registry entries exist', () => {
    // The original bootstrapped a second cluster when the registry had fewer than a quorum of entries.
    const plan = planJoin(
      observe({ members: [member(1), member(2)] }, { bootstrap: { kind: 'discovery', url: DISCOVERY, size: 3, registered: 1 } }),
      options('add'),
    );
    assert.equal(joined(plan).admission.kind, 'add');
  });
  test('B2: unlimited size joins an existing cluster instead of bootstrapping', () => {
    const plan = planJoin(observe({ members: [member(1), member(2), member(3)] }, { size: 'unlimited' }), options('add'));
    assert.equal(joined(plan).settings.initialClusterState, 'existing');
  });
});

describe('3.4 branches for an existing cluster', () => {
  test('prepare with a pre-added unstarted member: reuse it, change nothing', () => {
    const pre = unstarted(9);
    const plan = joined(planJoin(observe({ members: [member(1), member(2), pre] }), options('prepare')));
    assert.deepEqual(plan.removals, []);
    assert.deepEqual(plan.admission, { kind: 'reuse', member: pre });
  });
  test('prepare without a pre-added member: refused with the command to run (the original joined anyway)', () => {
    const r = refused(planJoin(observe({ members: [member(1), member(2)] }), options('prepare')), 'not-prepared');
    assert.match(r.message, /etcdctl member add n9 --peer-urls=http:\/\/10\.0\.0\.9:2380/);
  });
  test('not fresh and a member: resume without any membership change', () => {
    const plan = planJoin(observe({ members: [member(1), member(2), member(9)] }, { fresh: false }), options('prune'));
    assert.equal(plan.kind, 'resume');
    assert.equal(plan.kind === 'resume' && plan.updatePeerURLs, undefined);
  });
  test('R5: not fresh, same name, new address: resume after updating its peer URLs', () => {
    const old = member(9, { peerURLs: ['http://10.0.1.9:2380'] });
    const plan = planJoin(observe({ members: [member(1), member(2), old] }, { fresh: false }), options('replace'));
    assert.equal(plan.kind, 'resume');
    if (plan.kind !== 'resume') return;
    assert.equal(plan.updatePeerURLs?.member.id, old.id);
    assert.deepEqual(plan.updatePeerURLs?.peerURLs, [peer(9)]);
  });
  test('not fresh but removed from the cluster: refused, never started as a non-member', () => {
    refused(planJoin(observe({ members: [member(1), member(2)] }, { fresh: false }), options('replace')), 'stale-data-dir');
  });
  test('not fresh learner: resume and promote later', () => {
    const plan = planJoin(
      observe({ members: [member(1), member(2), member(9, { isLearner: true })] }, { fresh: false }),
      options('replace'),
    );
    assert.equal(plan.kind === 'resume' && plan.promote, true);
  });
});

describe('3.5 the joiner, per strategy', () => {
  test("reuse an unstarted member with this node's peer URLs (crash between add and start)", () => {
    const crashed = unstarted(9, { isLearner: true });
    const plan = joined(planJoin(observe({ members: [member(1), member(2), crashed], health: { 9: 'unreachable' } }), options('replace')));
    assert.equal(plan.admission.kind, 'reuse');
    assert.deepEqual(plan.removals, [], 'its own unstarted member is never removed as dead');
    assert.equal(plan.promote, true);
    assert.deepEqual(clusterEntries(plan), [`n9=${peer(9)}`, `n1=${peer(1)}`, `n2=${peer(2)}`]);
  });
  test('replace, full with one dead member: remove it, then add this node as a learner', () => {
    const plan = joined(
      planJoin(observe({ members: [member(1), member(2), member(3)], health: { 2: 'unreachable' } }), options('replace')),
    );
    assert.deepEqual(removedNumbers(plan), [2]);
    assert.deepEqual(plan.admission, { kind: 'add', peerURLs: [peer(9)], asLearner: true });
    assert.equal(plan.promote, true);
    assert.deepEqual(clusterEntries(plan), [`n9=${peer(9)}`, `n1=${peer(1)}`, `n3=${peer(3)}`]);
  });
  test('replace, full, no dead member: refused (healthy members are never removed)', () => {
    refused(planJoin(observe({ members: [member(1), member(2), member(3)] }), options('replace')), 'cluster-full');
  });
  test('replace, full with two dead of five: removes exactly one', () => {
    const plan = joined(
      planJoin(
        observe({ members: [1, 2, 3, 4, 5].map((n) => member(n)), health: { 2: 'unreachable', 4: 'unreachable' } }, { size: 5 }),
        options('replace'),
      ),
    );
    assert.deepEqual(removedNumbers(plan), [2]);
  });
  test('replace, not full, a dead member present: removes nothing', () => {
    const plan = joined(
      planJoin(observe({ members: [1, 2, 3, 4].map((n) => member(n)), health: { 4: 'unreachable' } }, { size: 5 }), options('replace')),
    );
    assert.deepEqual(plan.removals, []);
  });
  test('B3: prune removes every dead member, 2 of 5', () => {
    // The original's stray break removed only one per run.
    const plan = joined(
      planJoin(
        observe({ members: [1, 2, 3, 4, 5].map((n) => member(n)), health: { 2: 'unreachable', 5: 'unreachable' } }, { size: 5 }),
        options('prune'),
      ),
    );
    assert.deepEqual(removedNumbers(plan), [2, 5]);
    assert.deepEqual(
      plan.checks.map((c) => [c.voters, c.healthyVoters, c.ok]),
      [
        [4, 3, true],
        [3, 3, true],
        [3, 3, true],
        [4, 3, true],
      ],
    );
  });
  test('add never removes: full cluster refused', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), member(3)], health: { 1: 'unreachable' } }), options('add')),
      'cluster-full',
    );
  });
  test('add grows a healthy cluster when the size allows', () => {
    const plan = joined(planJoin(observe({ members: [member(1), member(2), member(3)] }, { size: 5 }), options('add')));
    assert.deepEqual(plan.removals, []);
    assert.deepEqual(clusterEntries(plan), [`n9=${peer(9)}`, `n1=${peer(1)}`, `n2=${peer(2)}`, `n3=${peer(3)}`]);
  });
  test('add into 3 members with one down and size 5: refused, the future quorum is at risk', () => {
    const r = refused(
      planJoin(observe({ members: [member(1), member(2), member(3)], health: { 3: 'unreachable' } }, { size: 5 }), options('add')),
      'quorum-at-risk',
    );
    assert.match(r.message, /promote n9/);
  });
  test('join as voter: a single check on the larger voter set', () => {
    const plan = joined(
      planJoin(observe({ members: [member(1), member(2), member(3)] }, { size: 5 }), options('add', { joinAs: 'voter' })),
    );
    assert.equal(plan.promote, false);
    assert.deepEqual(plan.admission, { kind: 'add', peerURLs: [peer(9)], asLearner: false });
    assert.deepEqual(
      plan.checks.map((c) => c.step),
      ['add n9 as voter'],
    );
  });
  test('a learner still joining blocks a second learner (etcd allows one)', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), member(3), member(4, { isLearner: true })] }, { size: 5 }), options('add')),
      'learner-pending',
    );
  });
  test('prune removes a dead learner first, then adds this node as a learner', () => {
    const plan = joined(
      planJoin(
        observe({ members: [member(1), member(2), member(3), member(4, { isLearner: true })], health: { 4: 'unreachable' } }, { size: 5 }),
        options('prune'),
      ),
    );
    assert.deepEqual(removedNumbers(plan), [4]);
  });
  test("platform knowledge: a terminated instance's member is dead without a failed health check", () => {
    const plan = joined(
      planJoin(
        observe({ members: [member(1), member(2), member(3)], health: { 3: 'unknown' } }, { platform: { goneNames: ['n3'] } }),
        options('replace'),
      ),
    );
    assert.deepEqual(
      plan.removals.map((r) => r.reason),
      ['platform-gone'],
    );
  });
  test('platform knowledge: a member whose machine is still booting is not dead', () => {
    const plan = planJoin(
      observe(
        { members: [member(1), member(2), unstarted(3)], health: { 3: 'unreachable' } },
        { platform: { bootingPeerURLs: [peer(3)] } },
      ),
      options('replace'),
    );
    refused(plan, 'join-in-progress');
  });
  test('platform knowledge never overrides a healthy answer', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), member(3)] }, { platform: { goneNames: ['n3'] } }), options('replace')),
      'cluster-full',
    );
  });
});

describe('R1: one join at a time', () => {
  test('an added member that has not started yet (health unknown) makes the next joiner wait', () => {
    refused(
      planJoin(
        observe({ members: [member(1), member(2), member(3), unstarted(4)], health: { 4: 'unknown' } }, { size: 5 }),
        options('add', { joinAs: 'voter' }),
      ),
      'join-in-progress',
    );
  });
  test('an unstarted member known dead does not block: it stays in the initial cluster under add', () => {
    const plan = joined(
      planJoin(
        observe({ members: [member(1), member(2), member(3), member(5), unstarted(4)], health: { 4: 'unreachable' } }, { size: 7 }),
        options('add', { joinAs: 'voter' }),
      ),
    );
    assert.ok(clusterEntries(plan).includes(`unstarted-${(BASE_ID + 4n).toString(16)}=${peer(4)}`));
  });
});

describe('3.6 the quorum guard', () => {
  test('B8: unstarted voters count toward the quorum', () => {
    // Original: started=2, healthy=2, future quorum 2: allowed. Really: 3 voters, promotion makes 4, quorum 3.
    const r = refused(
      planJoin(observe({ members: [member(1), member(2), unstarted(3)], health: { 3: 'unreachable' } }, { size: 5 }), options('add')),
      'quorum-at-risk',
    );
    assert.ok(r.checks?.some((c) => !c.ok && c.voters === 4 && c.quorum === 3));
  });
  test('B8: a one-member cluster whose member is down is not joined (the original always allowed it)', () => {
    refused(planJoin(observe({ members: [member(1)], health: { 1: 'unreachable' } }), options('add')), 'no-quorum');
  });
  test('growing a healthy one-member cluster is refused deliberately: a second voter that fails stops it', () => {
    refused(planJoin(observe({ members: [member(1)] }), options('add')), 'quorum-at-risk');
  });
  test('a cluster without a healthy quorum refuses a fresh node', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), member(3)], health: { 1: 'unreachable', 2: 'unreachable' } }), options('prune')),
      'no-quorum',
    );
  });
  test('learners never count toward the quorum', () => {
    // 2 voters + a healthy learner: a healthy learner does not make removing a dead voter safe.
    refused(
      planJoin(
        observe({ members: [member(1), member(2), member(3, { isLearner: true })], health: { 2: 'unreachable' } }, { size: 3 }),
        options('prune'),
      ),
      'no-quorum',
    );
  });
  test('unknown health (a member still booting) is neither healthy nor removed', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), member(3)], health: { 3: 'unknown' } }), options('replace')),
      'cluster-full',
    );
  });
});

describe('3.7 and B10/B11: removal order and one notion of size', () => {
  test('dead learners go before unstarted members, which go before started members', () => {
    const plan = joined(
      planJoin(
        observe(
          {
            members: [member(1), member(2), member(3), member(4), unstarted(5), member(6, { isLearner: true })],
            health: { 3: 'unreachable', 5: 'unreachable', 6: 'unreachable' },
          },
          { size: 5 },
        ),
        options('prune'),
      ),
    );
    assert.deepEqual(removedNumbers(plan), [6, 5, 3]);
  });
  test('B10: fullness counts every member, learners and unstarted ones included', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), unstarted(3)], health: { 3: 'unreachable' } }), options('add')),
      'cluster-full',
    );
  });
});

describe('3.8 when this node is already a member', () => {
  test('disk wiped, same name and URL: replace removes its previous incarnation and re-adds it', () => {
    const plan = joined(
      planJoin(observe({ members: [member(1), member(2), member(9)], health: { 9: 'unreachable' } }), options('replace')),
    );
    assert.deepEqual(
      plan.removals.map((r) => [Number(r.member.id - BASE_ID), r.reason]),
      [[9, 'previous-incarnation']],
    );
    assert.deepEqual(clusterEntries(plan), [`n9=${peer(9)}`, `n1=${peer(1)}`, `n2=${peer(2)}`]);
  });
  test('disk wiped: prune removes the previous incarnation first, then other dead members', () => {
    const plan = joined(
      planJoin(
        observe({ members: [1, 2, 3, 4, 9].map((n) => member(n)), health: { 9: 'unreachable', 3: 'unreachable' } }, { size: 5 }),
        options('prune'),
      ),
    );
    assert.deepEqual(removedNumbers(plan), [9, 3]);
  });
  test('disk wiped under add: refused, add never removes (not a 409 from etcd)', () => {
    refused(
      planJoin(observe({ members: [member(1), member(2), member(9)], health: { 9: 'unreachable' } }, { size: 5 }), options('add')),
      'peer-url-in-use',
    );
  });
  test("a healthy member already has this node's name: refused, nothing removed", () => {
    refused(planJoin(observe({ members: [member(1), member(2), member(9)] }), options('prune')), 'peer-url-in-use');
  });
});

describe('B1 and B9: the initial cluster is the member list after removals, plus this node', () => {
  test('includes dead members that are not removed, members added outside discovery and unstarted ones', () => {
    const plan = joined(
      planJoin(
        observe(
          {
            members: [member(1), member(2), member(3), unstarted(4), member(5), member(6)],
            health: { 3: 'unreachable', 4: 'unreachable' },
          },
          { size: 'unlimited' },
        ),
        options('replace', { joinAs: 'voter' }),
      ),
    );
    assert.deepEqual(clusterEntries(plan), [
      `n9=${peer(9)}`,
      `n1=${peer(1)}`,
      `n2=${peer(2)}`,
      `n3=${peer(3)}`,
      `unstarted-${(BASE_ID + 4n).toString(16)}=${peer(4)}`,
      `n5=${peer(5)}`,
      `n6=${peer(6)}`,
    ]);
  });
  test('B9: several advertised peer URLs are used consistently for add, initial cluster and advertisement', () => {
    const urls = [peer(9), 'http://[fd00::9]:2380'];
    const plan = joined(
      planJoin(observe({ members: [member(1), member(2), member(3)] }, { size: 5, self: { name: 'n9', peerURLs: urls } }), options('add')),
    );
    assert.deepEqual(plan.admission, { kind: 'add', peerURLs: urls, asLearner: true });
    assert.deepEqual(
      clusterEntries(plan).slice(0, 2),
      urls.map((u) => `n9=${u}`),
    );
    assert.deepEqual(plan.settings.initialAdvertisePeerURLs, urls);
  });
});
