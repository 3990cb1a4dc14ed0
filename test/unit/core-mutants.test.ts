// Table tests for core rules that mutation testing showed no test pinned down (mutation/README.md): input
// validation, a node with data finding its own member, reuse of its unstarted member, the order of members in
// plans and initial clusters, the wording that tells an operator what a plan does, and each output format.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memberIdToHex } from '../../src/core/ids.js';
import { planPromotion, planRemoval } from '../../src/core/membership.js';
import { memberLabel } from '../../src/core/members.js';
import { InvalidPlanInputError, planJoin } from '../../src/core/planner.js';
import { OUTPUT_FORMATS, render, renderDropin, renderEnv, renderFlags, renderJson, RenderError } from '../../src/core/render.js';
import type { EtcdSettings, Health, Member, Plan, QuorumCheck } from '../../src/core/types.js';
import { parseMemberURL } from '../../src/core/urls.js';
import { BASE_ID, member, observe, options, peer, unstarted } from './fixtures.js';

const hex = (n: number): string => memberIdToHex(BASE_ID + BigInt(n));
const compact = (checks: readonly QuorumCheck[] | undefined): string[] =>
  (checks ?? []).map(
    (c) => `${c.step.replace(/ \[[0-9a-f]+\]/g, '')}: ${c.healthyVoters}/${c.voters} q${c.quorum} ${c.ok ? 'ok' : 'at risk'}`,
  );
const expectRefusal = (plan: Plan, code: string): string => {
  assert.equal(plan.kind, 'refuse', plan.kind === 'refuse' ? '' : `planned ${plan.kind}`);
  assert.equal(plan.kind === 'refuse' && plan.code, code, plan.kind === 'refuse' ? plan.message : '');
  return plan.kind === 'refuse' ? plan.message : '';
};

// ---- input the planner refuses to plan on ----

test('invalid planner input is a programming error, named as such, with what is wrong', () => {
  const cases: [string, () => Plan, RegExp][] = [
    [
      'no name',
      () => planJoin(observe({ members: [member(1)] }, { self: { name: '', peerURLs: [peer(9)] } }), options('add')),
      /^this node needs a name$/,
    ],
    [
      'no peer URL',
      () => planJoin(observe({ members: [member(1)] }, { self: { name: 'n9', peerURLs: [] } }), options('add')),
      /^this node needs at least one peer URL$/,
    ],
    ['size 0', () => planJoin(observe({ members: [member(1)] }, { size: 0 }), options('add')), /^invalid target size 0$/],
    ['size 2.5', () => planJoin(observe({ members: [member(1)] }, { size: 2.5 }), options('add')), /^invalid target size 2.5$/],
    [
      'learner limit -1',
      () => planJoin(observe({ members: [member(1)] }), options('add', { maxLearners: -1 })),
      /^invalid learner limit -1$/,
    ],
    [
      'learner limit 0.5',
      () => planJoin(observe({ members: [member(1)] }), options('add', { maxLearners: 0.5 })),
      /^invalid learner limit 0.5$/,
    ],
    [
      'a member twice',
      () => planJoin(observe({ members: [member(1), member(2), member(1)] }), options('add')),
      new RegExp(`^member ${hex(1)} is listed twice$`),
    ],
  ];
  for (const [what, run, message] of cases) {
    assert.throws(
      run,
      (err: unknown) => err instanceof InvalidPlanInputError && err.name === 'InvalidPlanInputError' && message.test(err.message),
      what,
    );
  }
});

test('the edges of valid input are planned, not rejected: size 1, unlimited size', () => {
  expectRefusal(planJoin(observe({ members: [member(1)] }, { size: 1 }), options('add')), 'cluster-full');
  expectRefusal(planJoin(observe('unreachable', { size: 'unlimited' }), options('add')), 'no-bootstrap-source');
});

// ---- a node with data ----

test('a node with data and no answering member resumes without promoting', () => {
  const plan = planJoin(observe('unreachable', { fresh: false }), options('add'));
  assert.deepEqual(plan.kind === 'resume' && [plan.promote, plan.updatePeerURLs], [false, undefined]);
});

test('a node with data finds its member by name, else as the unstarted member on its peer URLs', () => {
  const byName = planJoin(observe({ members: [member(1), member(9, { peerURLs: [peer(9)] })] }, { fresh: false }), options('add'));
  assert.equal(byName.kind === 'resume' && byName.reason, `this node is member n9 [${hex(9)}]: resume from the data dir`);
  const byURL = planJoin(observe({ members: [member(1), member(2), unstarted(9, { isLearner: true })] }, { fresh: false }), options('add'));
  assert.equal(byURL.kind, 'resume', byURL.kind === 'refuse' ? byURL.message : byURL.kind);
  assert.deepEqual(byURL.kind === 'resume' && [byURL.promote, byURL.updatePeerURLs], [true, undefined]);
});

test('a node with data whose peer URLs another named member uses: peer-url-in-use, not "removed"', () => {
  const message = expectRefusal(
    planJoin(observe({ members: [member(1), member(2, { peerURLs: [peer(9)] })] }, { fresh: false }), options('add')),
    'peer-url-in-use',
  );
  assert.match(message, /^member n2 \[[0-9a-f]+\] already uses this node's peer URLs under another name; refusing to start n9 there$/);
});

test('a node with data whose member exists, while another member also uses one of its peer URLs: peer-url-in-use', () => {
  const self = { name: 'n9', peerURLs: [peer(9), peer(8)] };
  const plan = planJoin(
    observe({ members: [member(1), member(9, { peerURLs: [peer(9)] }), member(8)] }, { fresh: false, self }),
    options('add'),
  );
  assert.match(expectRefusal(plan, 'peer-url-in-use'), /^member n8 \[[0-9a-f]+\] already uses one of this node's peer URLs$/);
});

test('a node with data whose address changed: its member is updated to the new peer URLs, then it resumes', () => {
  const plan = planJoin(observe({ members: [member(1), member(2), member(9, { peerURLs: [peer(7)] })] }, { fresh: false }), options('add'));
  assert.equal(plan.kind, 'resume');
  assert.deepEqual(plan.kind === 'resume' && plan.updatePeerURLs, { member: member(9, { peerURLs: [peer(7)] }), peerURLs: [peer(9)] });
  assert.deepEqual(plan.kind === 'resume' && plan.promote, false);
});

// ---- reuse of this node's unstarted member ----

test('reusing an unstarted learner: no cluster-full check (it holds its seat already), start then promote', () => {
  const plan = planJoin(
    observe({ members: [member(1), member(2), member(3), unstarted(9, { isLearner: true })], health: { 9: 'unreachable' } }),
    options('add'),
  );
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : plan.kind);
  assert.deepEqual(compact(plan.kind === 'join' ? plan.checks : []), [
    `start n9 as unstarted learner ${hex(9)}: 3/3 q2 ok`,
    'promote n9: 3/4 q3 ok',
  ]);
  assert.equal(plan.kind === 'join' && plan.reason, `strategy add: reuse unstarted member ${hex(9)}`);
});

test('reusing an unstarted voter: one check, the voter already counted', () => {
  const plan = planJoin(
    observe({ members: [member(1), member(2), member(3), unstarted(9)], health: { 9: 'unreachable' } }, { size: 4 }),
    options('add'),
  );
  assert.equal(plan.kind, 'join', plan.kind === 'refuse' ? plan.message : plan.kind);
  assert.deepEqual(compact(plan.kind === 'join' ? plan.checks : []), [`start n9 as unstarted member ${hex(9)}: 3/4 q3 ok`]);
  assert.equal(plan.kind === 'join' && plan.promote, false);
});

// ---- what a plan says ----

test('a join says what it removes and how this node comes in', () => {
  const prune = planJoin(
    observe(
      { members: [member(3), member(2), member(1), member(5), member(4)], health: { 4: 'unreachable', 5: 'unreachable' } },
      { size: 5 },
    ),
    options('prune', { joinAs: 'voter' }),
  );
  assert.equal(prune.kind, 'join', prune.kind === 'refuse' ? prune.message : prune.kind);
  assert.equal(
    prune.kind === 'join' && prune.reason,
    `strategy prune: remove n4 [${hex(4)}] (unreachable), n5 [${hex(5)}] (unreachable), then add this node as a voter`,
  );
  assert.deepEqual(prune.kind === 'join' && prune.removals.map((r) => r.member.name), ['n4', 'n5'], 'lowest ID first');
  assert.deepEqual(
    prune.kind === 'join' && prune.settings.initialCluster?.map((e) => e.name),
    ['n9', 'n1', 'n2', 'n3'],
    'this node first, then the remaining members by ID',
  );
  const add = planJoin(observe({ members: [member(1), member(2), member(3)] }, { size: 'unlimited' }), options('add'));
  assert.equal(add.kind === 'join' && add.reason, 'strategy add: add this node as a learner');
});

test('cluster-full says when replace would have needed to remove more than one member', () => {
  const full = observe(
    { members: [member(1), member(2), member(3), member(4), member(5)], health: { 4: 'unreachable', 5: 'unreachable' } },
    { size: 4 },
  );
  assert.match(
    expectRefusal(planJoin(full, options('replace')), 'cluster-full'),
    /more than the target size 4 \(replace removes at most one dead member\)$/,
  );
  assert.match(expectRefusal(planJoin(full, options('add')), 'cluster-full'), /more than the target size 4$/);
});

test('memberLabel names a member, or an unstarted one by its peer URLs', () => {
  assert.equal(memberLabel(member(1)), `n1 [${hex(1)}]`);
  assert.equal(
    memberLabel(unstarted(4, { peerURLs: ['HTTP://10.0.0.4:2380', peer(5)] })),
    `unstarted http://10.0.0.4:2380,${peer(5)} [${hex(4)}]`,
  );
});

test('static bootstrap: the initial cluster is this node first, then the others by name', () => {
  const members = [3, 9, 1, 4, 2].map((n) => ({ name: `n${n}`, peerURLs: [peer(n)] }));
  const plan = planJoin(observe('unreachable', { bootstrap: { kind: 'static', members, token: 't' }, size: 5 }), options('add'));
  assert.equal(plan.kind, 'bootstrap', plan.kind === 'refuse' ? plan.message : plan.kind);
  assert.deepEqual(plan.kind === 'bootstrap' && plan.settings.initialCluster?.map((e) => e.name), ['n9', 'n1', 'n2', 'n3', 'n4']);
});

// ---- single changes ----

test('removal refusals say which rule: the last voter, or the quorum', () => {
  const health = (ms: Member[], down: number[] = []) =>
    new Map(ms.map((m) => [m.id, (down.includes(Number(m.id - BASE_ID)) ? 'unreachable' : 'healthy') as Health]));
  const one = [member(1)];
  const last = planRemoval({ members: one, health: health(one) }, () => true);
  assert.equal(last.kind === 'refuse' && last.reason, `n1 [${hex(1)}] is the last voting member; removing it would destroy the cluster`);
  const three = [member(1), member(2), member(3)];
  const quorum = planRemoval({ members: three, health: health(three, [2]) }, (m) => m.name === 'n1');
  assert.equal(
    quorum.kind === 'refuse' && quorum.reason,
    `removing n1 [${hex(1)}] would leave 1 healthy of 2 voting members, below the quorum of 2`,
  );
});

test('promotion: an unknown member is not a learner; a learner is checked on the larger voter set', () => {
  const ms = [member(1), member(2), member(3), member(4, { isLearner: true })];
  const view = { members: ms, health: new Map<bigint, Health>(ms.map((m) => [m.id, 'healthy'])) };
  assert.deepEqual(planPromotion(view, BASE_ID + 99n), { kind: 'not-learner', reason: 'no such member' });
  const d = planPromotion(view, BASE_ID + 4n);
  assert.deepEqual(d.kind === 'promote' && [d.check.voters, d.check.healthyVoters, d.check.quorum], [4, 3, 3]);
});

// ---- output ----

const full: EtcdSettings = {
  name: 'n1',
  dataDir: '/var/lib/etcd',
  initialAdvertisePeerURLs: [peer(1)],
  listenPeerURLs: ['http://0.0.0.0:2380'],
  listenClientURLs: ['http://0.0.0.0:2379', 'http://127.0.0.1:2379'],
  advertiseClientURLs: ['http://10.0.0.1:2379'],
  initialCluster: [{ name: 'n1', peerURL: peer(1) }],
  initialClusterState: 'new',
  initialClusterToken: 'tok',
};

test('every setting is rendered, in a fixed order; empty ones are left out', () => {
  assert.equal(
    renderEnv(full),
    [
      'ETCD_NAME="n1"',
      'ETCD_DATA_DIR="/var/lib/etcd"',
      `ETCD_INITIAL_ADVERTISE_PEER_URLS="${peer(1)}"`,
      'ETCD_LISTEN_PEER_URLS="http://0.0.0.0:2380"',
      'ETCD_LISTEN_CLIENT_URLS="http://0.0.0.0:2379,http://127.0.0.1:2379"',
      'ETCD_ADVERTISE_CLIENT_URLS="http://10.0.0.1:2379"',
      `ETCD_INITIAL_CLUSTER="n1=${peer(1)}"`,
      'ETCD_INITIAL_CLUSTER_STATE="new"',
      'ETCD_INITIAL_CLUSTER_TOKEN="tok"',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(renderEnv({ ...full, initialClusterToken: '' }), /TOKEN/);
  assert.deepEqual(OUTPUT_FORMATS, ['env', 'dropin', 'flags', 'json']);
});

test('render picks the format', () => {
  assert.equal(render('env', full), renderEnv(full));
  assert.equal(render('dropin', full, { requires: 'a.service' }), renderDropin(full, { requires: 'a.service' }));
  assert.equal(render('flags', full), renderFlags(full));
  assert.notEqual(renderEnv(full), renderFlags(full));
});

test('a drop-in has no ExecStartPost unless asked; only plain unit names are accepted', () => {
  assert.doesNotMatch(renderDropin(full), /ExecStartPost/);
  for (const bad of ['x;rm.service', 'etcd.service x', '/etc/a.service', 'a.service.d']) {
    assert.throws(() => renderDropin(full, { requires: bad }), RenderError, bad);
  }
  assert.match(renderDropin(full, { requires: 'etcd-member@1.service' }), /^Requires=etcd-member@1\.service$/m);
});

test("JSON: the kind always, a refusal's checks (none: []), a bootstrap's settings and env", () => {
  const refusal = JSON.parse(renderJson({ kind: 'refuse', code: 'no-quorum', message: 'm' })) as Record<string, unknown>;
  assert.deepEqual(refusal, { kind: 'refuse', code: 'no-quorum', message: 'm', checks: [] });
  const bootstrap = JSON.parse(renderJson({ kind: 'bootstrap', settings: full, reason: 'r' })) as Record<string, unknown>;
  assert.deepEqual(Object.keys(bootstrap), ['kind', 'reason', 'settings', 'env']);
  assert.equal((bootstrap.env as Record<string, string>).ETCD_INITIAL_CLUSTER_TOKEN, 'tok');
});

// ---- URLs ----

test('an empty user part before the host is no credential: the port after it still counts', () => {
  assert.equal(parseMemberURL('http://@10.0.0.1:2380'), 'http://10.0.0.1:2380');
  assert.throws(() => parseMemberURL('http://@10.0.0.1'), /explicit port/);
});
