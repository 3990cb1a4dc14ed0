// The CLI end to end against failures, on a cluster bootstrapped through the real discovery service:
// `prepare` with and without a pre-added member, a hung (SIGSTOP) member treated as dead within the health
// timeout under `replace`, and `prune` with 2 of 5 members dead.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCluster, etcdctl, peerURLOf, pollUntil, type EtcdCluster, type EtcdMember } from '../harness/index.js';
import { expectExit, members, nodeArgs, parseEnvOutput, promote, runCli, waitForVoters } from './cli-support.js';

describe('elastic-etcd CLI: prepare, a hung member, prune', () => {
  let sandbox: EtcdCluster;
  let url: string;
  const running = new Map<string, EtcdMember>();

  const endpoints = (): string[] => [...running.values()].filter((m) => m.running).map((m) => m.clientURL);

  /** Runs the CLI for a fresh node, starts etcd from the env output, promotes it; returns the run. */
  async function joinNode(name: string, extra: readonly string[]): Promise<{ stderr: string }> {
    const ip = await sandbox.allocateIp();
    const run = expectExit(
      await runCli(['-o', 'env', ...extra, ...nodeArgs(name, peerURLOf(ip), url, join(sandbox.dir, `${name}.data`))]),
      0,
      name,
    );
    running.set(name, await sandbox.startMember({ ip, settings: parseEnvOutput(run.stdout) }));
    await promote(name, peerURLOf(ip), url);
    return run;
  }

  before(async () => {
    sandbox = createCluster();
    const discovery = await sandbox.startDiscoveryService();
    url = await discovery.newDiscoveryURL(3);
    for (const name of ['f1', 'f2', 'f3']) {
      running.set(name, await sandbox.startMember({ settings: { ETCD_NAME: name, ETCD_DISCOVERY: url }, wait: 'none' }));
    }
    await Promise.all([...running.values()].map((m) => m.waitReady()));
  });
  after(async () => {
    await sandbox.close();
  });

  test('prepare without a pre-added member is refused and changes nothing', async () => {
    const before = await members(endpoints());
    const ip = await sandbox.allocateIp();
    const run = await runCli([
      '--join-strategy=prepare',
      '--cluster-size=5',
      ...nodeArgs('f4', peerURLOf(ip), url, join(sandbox.dir, 'f4-unprepared.data')),
    ]);
    expectExit(run, 1, 'unprepared');
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /join refused \(not-prepared\).*etcdctl member add/);
    assert.deepEqual(await members(endpoints()), before);
  });

  test('prepare (alias prepared) with a member an admin pre-added joins as that member', async () => {
    const ip = await sandbox.allocateIp();
    // etcd answers "unhealthy cluster" to reconfigurations for a few seconds after its members started.
    await pollUntil(
      async () =>
        (await etcdctl(endpoints(), ['member', 'add', 'f4', '--learner', `--peer-urls=${peerURLOf(ip)}`])).exitCode === 0
          ? true
          : undefined,
      { timeoutMs: 20_000, intervalMs: 500, what: 'etcdctl member add f4' },
    );
    const preAdded = (await members(endpoints())).find((m) => m.peerURLs.includes(peerURLOf(ip)));
    assert.ok(preAdded !== undefined);
    const run = expectExit(
      await runCli([
        '-o',
        'env',
        '--join-strategy=prepared',
        '--cluster-size=5',
        ...nodeArgs('f4', peerURLOf(ip), url, join(sandbox.dir, 'f4.data')),
      ]),
      0,
      'prepared',
    );
    assert.equal((await members(endpoints())).length, 4, 'nothing added besides the pre-added member');
    running.set('f4', await sandbox.startMember({ ip, settings: parseEnvOutput(run.stdout) }));
    await promote('f4', peerURLOf(ip), url);
    const list = await waitForVoters(endpoints(), ['f1', 'f2', 'f3', 'f4']);
    assert.ok(list.some((m) => m.id === preAdded.id && m.name === 'f4'));
  });

  test('a hung (SIGSTOP) member, which accepts connections but never answers, counts as dead and is replaced', async () => {
    const hung = running.get('f2');
    assert.ok(hung?.id !== undefined);
    hung.stop();
    try {
      const run = await joinNode('f5', ['--join-strategy=replace', '--cluster-size=4', '--health-timeout=1s', '--command-timeout=2s']);
      assert.match(run.stderr, /f2/);
      const list = await waitForVoters(
        endpoints().filter((u) => u !== hung.clientURL),
        ['f1', 'f3', 'f4', 'f5'],
      );
      assert.ok(!list.some((m) => m.id === hung.id));
    } finally {
      await hung.kill();
    }
  });

  test('prune removes both dead members of five, then adds this node', async () => {
    await joinNode('f6', ['--join-strategy=add', '--cluster-size=5']);
    await waitForVoters(endpoints(), ['f1', 'f3', 'f4', 'f5', 'f6']);
    const dead = [running.get('f3'), running.get('f4')];
    for (const member of dead) await member?.kill();

    const run = await joinNode('f7', ['--join-strategy=prune', '--cluster-size=5', '--health-timeout=1s']);
    assert.match(run.stderr, /f3/);
    assert.match(run.stderr, /f4/);
    await waitForVoters(endpoints(), ['f1', 'f5', 'f6', 'f7']);
  });
});
