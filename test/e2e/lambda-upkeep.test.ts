// etcd's upkeep by the reconcile pass, in the simulated world with TLS: members run with a small space quota (set
// through the Lambda's configuration, carried by the drop-in), a client fills it until etcd raises NOSPACE and refuses
// writes, and reconcile passes alone compact, defragment one member at a time (followers before the leader) and
// disarm the alarm, so writes succeed again; a majority of members answers between every two steps.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';
import { clientFor } from '../../src/services/connection.js';

const QUOTA = 4 * 1024 * 1024;
const VALUE = Buffer.alloc(200 * 1024, 'x').toString('base64');

describe('upkeep: a cluster that hit its space quota is made writable again by reconcile passes', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 1717, clusterSize: 3, quotaBackendBytes: QUOTA, ...timelineFromEnv() });
    const formed = await world.bootstrap(3);
    assert.deepEqual(formed.problems, []);
    await world.put('/e2e/upkeep', 'before the quota');
  });
  after(async () => world.close());

  /** Members of in-service instances that answer and know a leader. */
  async function answering(): Promise<number> {
    const statuses = await Promise.all(world.inService().map((id) => world.status(id, 2_000)));
    return statuses.filter((s) => s !== undefined && s.leader !== 0n).length;
  }

  test('fill until NOSPACE; compact, defragment and disarm follow; writes succeed again', { timeout: 180_000 }, async () => {
    const endpoint = world.endpoints()[0]!;
    const drop = world.inService().map((id) => world.clientURL(id));
    assert.ok(drop.length === 3);
    // Overwrite one key with 200 KiB values: the history fills the 4 MiB quota.
    let filled = false;
    for (let i = 0; i < 200 && !filled; i++) {
      const answer = await world.probeJson(`${endpoint}/v3/kv/put`, {
        method: 'POST',
        body: { key: Buffer.from('/e2e/fill').toString('base64'), value: VALUE },
        timeoutMs: 5_000,
      });
      filled = answer === undefined;
    }
    assert.ok(filled, 'etcd refused a write');
    const refused = await world.etcdctl(['put', '/e2e/after', 'x']);
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /database space exceeded/);
    assert.match((await world.etcdctl(['alarm', 'list'])).stdout, /alarm:NOSPACE/);
    assert.equal(await answering(), 3);

    const upkeep = () =>
      (world.telemetry?.decisions() ?? []).filter((d) => typeof d.decision === 'string' && d.decision.startsWith('upkeep-'));
    for (let pass = 1; pass <= 8; pass++) {
      await world.reconcile();
      assert.ok((await answering()) >= 2, `a majority answers after pass ${pass}\n${world.describeTimeline(30)}`);
      if (upkeep().some((d) => d.decision === 'upkeep-disarm')) break;
    }
    const decisions = upkeep();
    const shown = decisions.map((d) => `${String(d.decision)}: ${String(d.reason)}`).join('\n');
    assert.equal(decisions[0]?.decision, 'upkeep-compact', shown);
    assert.equal(decisions.at(-1)?.decision, 'upkeep-disarm', shown);
    const defragmented = decisions.filter((d) => d.decision === 'upkeep-defragment');
    assert.ok(defragmented.length >= 1, shown);
    // One member per pass, followers first: only the last defragmentation may be the leader's.
    assert.ok(
      defragmented.slice(0, -1).every((d) => !String(d.reason).includes('the leader')),
      shown,
    );
    assert.equal(new Set(defragmented.map((d) => d.member)).size, defragmented.length, `no member twice\n${shown}`);

    assert.equal((await world.etcdctl(['alarm', 'list'])).stdout.trim(), '');
    await world.put('/e2e/after', 'writable again');
    assert.equal(await world.get('/e2e/after'), 'writable again');
    assert.equal(await world.get('/e2e/upkeep'), 'before the quota');
    const client = clientFor(drop, await world.connection());
    try {
      for (const url of drop) {
        const { dbSize } = await client.statusAt(url, { timeoutMs: 2_000 });
        assert.ok(dbSize < BigInt(QUOTA), `${url} database ${dbSize}`);
      }
    } finally {
      client.close();
    }
    if (process.env.ELASTIC_ETCD_TIMELINE !== undefined) console.error(shown);
    assert.deepEqual((await world.check()).problems, []);
  });
});
