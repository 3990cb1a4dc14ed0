// The CLI end to end on a cluster bootstrapped through the real discovery service: two nodes joining at the
// same moment (one wins, the other is told to retry; never two half-joined members), a run that "crashed"
// between adding the member and starting etcd (the next run reuses that member), and growing the cluster
// with --cluster-size.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readRegistry } from '../../src/adapters/discovery/index.js';
import { createCluster, peerURLOf, type EtcdCluster } from '../harness/index.js';
import { expectExit, members, nodeArgs, parseEnvOutput, promote, runCli, waitForVoters } from './cli-support.js';

describe('elastic-etcd CLI: concurrent joiners, crash between add and start, growing with --cluster-size', () => {
  let sandbox: EtcdCluster;
  let url: string;
  let endpoints: string[];
  const joiners: { name: string; ip: string; dataDir: string }[] = [];

  before(async () => {
    sandbox = createCluster();
    const discovery = await sandbox.startDiscoveryService();
    url = await discovery.newDiscoveryURL(3);
    const first = [];
    for (const name of ['g1', 'g2', 'g3']) {
      first.push(await sandbox.startMember({ settings: { ETCD_NAME: name, ETCD_DISCOVERY: url }, wait: 'none' }));
    }
    await Promise.all(first.map((m) => m.waitReady()));
    endpoints = first.map((m) => m.clientURL);
    for (const name of ['g4', 'g5']) {
      joiners.push({ name, ip: await sandbox.allocateIp(), dataDir: join(sandbox.dir, `${name}.data`) });
    }
  });
  after(async () => {
    await sandbox.close();
  });

  const argsOf = (j: { name: string; ip: string; dataDir: string }): string[] => [
    '-o',
    'env',
    '--join-strategy=add',
    '--cluster-size=5',
    ...nodeArgs(j.name, peerURLOf(j.ip), url, j.dataDir),
  ];

  let winner: { name: string; ip: string; dataDir: string };
  let loser: { name: string; ip: string; dataDir: string };
  let winnerOutput: string;

  test('two nodes joining at once: exactly one is added, the other is refused with a retry hint', async () => {
    const runs = await Promise.all(joiners.map((j) => runCli(argsOf(j))));
    const succeeded = runs.filter((r) => r.code === 0);
    const failed = runs.filter((r) => r.code !== 0);
    assert.equal(succeeded.length, 1, runs.map((r) => r.stderr).join('\n---\n'));
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.code, 1);
    assert.equal(failed[0]?.stdout, '');
    assert.match(failed[0]?.stderr ?? '', /join refused \((join-in-progress|learner-pending)\): .*retry once/);
    const index = runs.findIndex((r) => r.code === 0);
    winner = joiners[index]!;
    loser = joiners[1 - index]!;
    winnerOutput = runs[index]!.stdout;

    const list = await members(endpoints);
    assert.equal(list.length, 4, 'one member added, not two');
    const added = list.filter((m) => m.name === '');
    assert.deepEqual(
      added.map((m) => m.peerURLs),
      [[peerURLOf(winner.ip)]],
    );
  });

  test('a run that died between adding the member and starting etcd is finished by the next run, reusing the member', async () => {
    // The winner's etcd never started (the "crash"). Its next run must take over the same member.
    const before = await members(endpoints);
    const unstarted = before.find((m) => m.name === '');
    assert.ok(unstarted !== undefined);
    const rerun = expectExit(await runCli(argsOf(winner)), 0, 'rerun after crash');
    const after = await members(endpoints);
    assert.deepEqual(after.map((m) => m.id).sort(), before.map((m) => m.id).sort(), 'no second member for the same node');
    assert.deepEqual(parseEnvOutput(rerun.stdout), parseEnvOutput(winnerOutput));
    assert.ok(
      (await readRegistry(url)).entries.some((e) => e.id === unstarted.id),
      'the reused member is registered in discovery',
    );

    await sandbox.startMember({ ip: winner.ip, settings: parseEnvOutput(rerun.stdout) });
    await promote(winner.name, peerURLOf(winner.ip), url);
    await waitForVoters(endpoints, ['g1', 'g2', 'g3', winner.name]);
  });

  test('add grows the cluster up to --cluster-size, then refuses', async () => {
    const run = expectExit(await runCli(argsOf(loser)), 0, 'grow to 5');
    const settings = parseEnvOutput(run.stdout);
    assert.equal(settings.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.equal(settings.ETCD_INITIAL_CLUSTER?.split(',').length, 5);
    await sandbox.startMember({ ip: loser.ip, settings });
    await promote(loser.name, peerURLOf(loser.ip), url);
    await waitForVoters(endpoints, ['g1', 'g2', 'g3', 'g4', 'g5']);

    const ip6 = await sandbox.allocateIp();
    const full = await runCli([
      '--join-strategy=add',
      '--cluster-size=5',
      ...nodeArgs('g6', peerURLOf(ip6), url, join(sandbox.dir, 'g6.data')),
    ]);
    expectExit(full, 1, 'sixth node');
    assert.equal(full.stdout, '');
    assert.match(full.stderr, /join refused \(cluster-full\)/);
    assert.equal((await members(endpoints)).length, 5);
  });
});
