// Property-based tests of the planner over random clusters of 1 to 9 members with random health, sizes,
// strategies and traces of this node. The quorum rule is re-derived here independently of the planner's checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planJoin } from '../../src/core/planner.js';
import { quorumOf } from '../../src/core/quorum.js';
import { renderDropin, renderEnv, renderFlags, renderJson } from '../../src/core/render.js';
import type { Health, Member, Observation, Plan, PlanOptions } from '../../src/core/types.js';
import { canonicalURL } from '../../src/core/urls.js';

const SELF_URL = 'http://10.9.9.9:2380';

interface Scenario {
  observation: Observation;
  options: PlanOptions;
}

const memberSpec = fc.record({
  // Most real IDs are above 2^53; keep some small ones too.
  id: fc.oneof(fc.bigInt({ min: 1n << 53n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 1n, max: 1n << 53n })),
  // Weighted toward realistic clusters (mostly started, healthy voters) so that joins with removals are common.
  started: fc.constantFrom(true, true, true, true, true, false),
  isLearner: fc.constantFrom(false, false, false, false, false, true),
  health: fc.constantFrom<Health>('healthy', 'healthy', 'healthy', 'healthy', 'unreachable', 'unreachable', 'unknown'),
  gone: fc.constantFrom(false, false, false, true),
});

const scenario: fc.Arbitrary<Scenario> = fc
  .record({
    specs: fc.uniqueArray(memberSpec, { minLength: 1, maxLength: 9, selector: (m) => m.id }),
    size: fc.oneof(fc.integer({ min: 1, max: 9 }), fc.constant('unlimited' as const)),
    strategy: fc.constantFrom<PlanOptions['strategy']>('prepare', 'add', 'replace', 'prune'),
    joinAs: fc.constantFrom<PlanOptions['joinAs']>('learner', 'voter'),
    fresh: fc.boolean(),
    maxLearners: fc.integer({ min: 1, max: 2 }),
    /** One member may carry a trace of this node: 1 its name, 2 its peer URL, 3 unstarted with exactly its URL. */
    trace: fc.constantFrom(0, 0, 0, 1, 2, 3),
    traced: fc.nat(),
  })
  .map(({ specs, size, strategy, joinAs, fresh, maxLearners, trace, traced }) => {
    const tracedIndex = traced % specs.length;
    const members: Member[] = specs.map((s, i) => {
      const t = i === tracedIndex ? trace : 0;
      const url = t === 2 || t === 3 ? SELF_URL : `http://10.0.${i}.1:2380`;
      const started = t === 3 ? false : s.started;
      const name = !started ? '' : t === 1 ? 'self' : `m${i}`;
      return { id: s.id, name, peerURLs: [url], clientURLs: started ? [`http://10.0.${i}.1:2379`] : [], isLearner: s.isLearner };
    });
    const health = new Map(specs.map((s, i) => [s.id, members[i]!.name === '' && s.health === 'healthy' ? 'unknown' : s.health] as const));
    const goneNames = specs.flatMap((s, i) => (s.gone && members[i]!.name !== '' ? [members[i]!.name] : []));
    return {
      observation: {
        self: { name: 'self', peerURLs: [SELF_URL] },
        dataDirFresh: fresh,
        targetSize: size,
        cluster: { kind: 'reachable', members, health },
        bootstrap: { kind: 'none' },
        platform: { goneNames },
      },
      options: { strategy, joinAs, maxLearners },
    };
  });

function healthOf(o: Observation, m: Member): Health {
  return o.cluster.kind === 'reachable' ? (o.cluster.health.get(m.id) ?? 'unknown') : 'unknown';
}

function membersOf(o: Observation): readonly Member[] {
  return o.cluster.kind === 'reachable' ? o.cluster.members : [];
}

const runs = { numRuns: 3000 };

test('no plan ever removes a healthy member', () => {
  fc.assert(
    fc.property(scenario, ({ observation, options }) => {
      const plan = planJoin(observation, options);
      if (plan.kind !== 'join') return;
      for (const r of plan.removals) assert.notEqual(healthOf(observation, r.member), 'healthy');
    }),
    runs,
  );
});

test('the quorum guard holds at every step, counting this node as never started', () => {
  fc.assert(
    fc.property(scenario, ({ observation, options }) => {
      const plan = planJoin(observation, options);
      if (plan.kind !== 'join') return;
      const members = membersOf(observation);
      const healthy = members.filter((m) => !m.isLearner && healthOf(observation, m) === 'healthy').length;
      let voters = members.filter((m) => !m.isLearner).length;
      assert.ok(healthy >= quorumOf(voters), 'joins only a cluster that has a healthy quorum');
      for (const r of plan.removals) {
        if (!r.member.isLearner) voters -= 1;
        assert.ok(voters > 0 && healthy >= quorumOf(voters), 'each removal keeps a healthy quorum');
      }
      const admitted = plan.admission;
      if (admitted.kind === 'add' && !admitted.asLearner) voters += 1;
      assert.ok(healthy >= quorumOf(voters), 'the add keeps a healthy quorum');
      if (plan.promote) assert.ok(healthy >= quorumOf(voters + 1), 'the later promotion keeps a healthy quorum');
    }),
    runs,
  );
});

test('the initial cluster equals the resulting member list plus this node', () => {
  fc.assert(
    fc.property(scenario, ({ observation, options }) => {
      const plan = planJoin(observation, options);
      if (plan.kind !== 'join') return;
      const removed = new Set(plan.removals.map((r) => r.member.id));
      const reused = plan.admission.kind === 'reuse' ? plan.admission.member.id : undefined;
      const remaining = membersOf(observation).filter((m) => !removed.has(m.id) && m.id !== reused);
      const expected = [...remaining.flatMap((m) => m.peerURLs), SELF_URL].map(canonicalURL).sort();
      const initial = plan.settings.initialCluster ?? [];
      assert.deepEqual(initial.map((e) => canonicalURL(e.peerURL)).sort(), expected);
      // One distinct name per member, this node's under its own name.
      assert.equal(new Set(initial.map((e) => e.name)).size, remaining.length + 1);
      assert.ok(initial.some((e) => e.name === 'self' && e.peerURL === SELF_URL));
    }),
    runs,
  );
});

test('strategies keep their promises', () => {
  fc.assert(
    fc.property(scenario, ({ observation, options }) => {
      const plan = planJoin(observation, options);
      if (plan.kind !== 'join') return;
      const others = plan.removals.filter((r) => r.reason !== 'previous-incarnation');
      switch (options.strategy) {
        case 'prepare':
          assert.equal(plan.removals.length, 0);
          assert.equal(plan.admission.kind, 'reuse', 'prepare never adds a member');
          break;
        case 'add':
          assert.equal(plan.removals.length, 0);
          break;
        case 'replace':
          assert.ok(others.length <= 1, 'replace removes at most one other dead member');
          if (others.length === 1) {
            const size = observation.targetSize;
            assert.ok(size !== 'unlimited' && membersOf(observation).length >= size, 'only when the cluster is full');
          }
          break;
        case 'prune': {
          const removed = new Set(plan.removals.map((r) => r.member.id));
          const reused = plan.admission.kind === 'reuse' ? plan.admission.member.id : undefined;
          for (const m of membersOf(observation)) {
            if (m.id !== reused && healthOf(observation, m) === 'unreachable') assert.ok(removed.has(m.id), 'prune removes every dead member');
          }
          break;
        }
      }
    }),
    runs,
  );
});

test('a node with member data never changes membership (beyond following its own address)', () => {
  fc.assert(
    fc.property(scenario, ({ observation, options }) => {
      const plan = planJoin({ ...observation, dataDirFresh: false }, options);
      assert.ok(plan.kind === 'resume' || plan.kind === 'refuse');
    }),
    runs,
  );
});

test('planning and rendering are deterministic, whatever order etcd lists the members in', () => {
  fc.assert(
    fc.property(scenario, fc.integer(), ({ observation, options }, seed) => {
      const shuffled: Observation =
        observation.cluster.kind === 'reachable'
          ? { ...observation, cluster: { ...observation.cluster, members: shuffle(observation.cluster.members, seed) } }
          : observation;
      const a = planJoin(observation, options);
      const b = planJoin(shuffled, options);
      assert.equal(renderJson(a), renderJson(b));
      if (a.kind !== 'refuse' && b.kind !== 'refuse') {
        assert.equal(renderEnv(a.settings), renderEnv(b.settings));
        assert.equal(renderDropin(a.settings), renderDropin(b.settings));
        assert.equal(renderFlags(a.settings), renderFlags(b.settings));
      }
    }),
    { numRuns: 1000 },
  );
});

test('member IDs above 2^53 survive every path unchanged', () => {
  fc.assert(
    fc.property(scenario, ({ observation, options }) => {
      const plan = planJoin(observation, options);
      const input = new Set(membersOf(observation).map((m) => m.id));
      const ids = idsIn(plan);
      for (const id of ids) assert.ok(input.has(id), `id ${id} came from the observation`);
      const json = renderJson(plan);
      for (const id of ids) {
        assert.ok(json.includes(`"${id.toString(16)}"`) && json.includes(`"${id.toString(10)}"`));
      }
    }),
    runs,
  );
});

function idsIn(plan: Plan): bigint[] {
  if (plan.kind === 'join') {
    return [...plan.removals.map((r) => r.member.id), ...(plan.admission.kind === 'reuse' ? [plan.admission.member.id] : [])];
  }
  if (plan.kind === 'resume' && plan.updatePeerURLs !== undefined) return [plan.updatePeerURLs.member.id];
  return [];
}

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('the random scenarios exercise joins, removals, reuse, resumes and refusals (so the properties bite)', () => {
  const counts = new Map<string, number>();
  const bump = (k: string): void => void counts.set(k, (counts.get(k) ?? 0) + 1);
  for (const { observation, options } of fc.sample(scenario, { numRuns: 3000, seed: 42 })) {
    const plan = planJoin(observation, options);
    bump(plan.kind);
    if (plan.kind === 'join') {
      if (plan.removals.length > 0) bump('join-with-removal');
      if (plan.removals.length > 1) bump('join-with-removals');
      if (plan.admission.kind === 'reuse') bump('reuse');
    }
    if (plan.kind === 'refuse') bump(plan.code);
  }
  for (const kind of ['join', 'resume', 'refuse', 'join-with-removal', 'join-with-removals', 'reuse', 'quorum-at-risk', 'no-quorum', 'cluster-full']) {
    assert.ok((counts.get(kind) ?? 0) >= 10, `${kind}: ${counts.get(kind) ?? 0} of 3000 samples; all: ${JSON.stringify([...counts])}`);
  }
});
