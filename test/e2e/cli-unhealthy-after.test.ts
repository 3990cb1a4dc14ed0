// The CLI's --unhealthy-after on a real cluster: a hung (SIGSTOP) member is not removed on its first failed
// check; the run keeps watching it (recording it in etcd's health history) until it has been unreachable long
// enough, then replaces it. And a bad combination of options is refused before anything is touched.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createCluster, peerURLOf, type EtcdCluster, type EtcdMember } from '../harness/index.js';
import { expectExit, members, nodeArgs, parseEnvOutput, promote, runCli, waitForVoters } from './cli-support.js';

describe('elastic-etcd CLI: --unhealthy-after', () => {
  let sandbox: EtcdCluster;
  let url: string;
  const running = new Map<string, EtcdMember>();
  const endpoints = (): string[] => [...running.values()].filter((m) => m.running).map((m) => m.clientURL);

  before(async () => {
    sandbox = createCluster();
    const discovery = await sandbox.startDiscoveryService();
    url = await discovery.newDiscoveryURL(3);
    for (const name of ['u1', 'u2', 'u3']) {
      running.set(name, await sandbox.startMember({ settings: { ETCD_NAME: name, ETCD_DISCOVERY: url }, wait: 'none' }));
    }
    await Promise.all([...running.values()].map((m) => m.waitReady()));
  });
  after(async () => {
    await sandbox.close();
  });

  test('with add, --unhealthy-after is refused and nothing changes', async () => {
    const before = await members(endpoints());
    const ip = await sandbox.allocateIp();
    const run = await runCli([
      '--join-strategy=add',
      '--unhealthy-after=5s',
      ...nodeArgs('u9', peerURLOf(ip), url, join(sandbox.dir, 'u9.data')),
    ]);
    expectExit(run, 2, 'add with --unhealthy-after');
    assert.match(run.stderr, /unhealthy-after/);
    assert.deepEqual(await members(endpoints()), before);
  });

  test('a hung member is watched until it has been unreachable long enough, then replaced', async () => {
    const hung = running.get('u2');
    assert.ok(hung?.id !== undefined);
    hung.stop();
    try {
      const ip = await sandbox.allocateIp();
      const run = expectExit(
        await runCli([
          '-o',
          'env',
          '--join-strategy=replace',
          '--cluster-size=3',
          '--unhealthy-after=4s',
          // Bounds a loaded CI machine still meets for the two members that answer (a 1 s health check did not once).
          '--health-timeout=2s',
          '--command-timeout=4s',
          ...nodeArgs('u4', peerURLOf(ip), url, join(sandbox.dir, 'u4.data')),
        ]),
        0,
        'u4',
      );
      // The first look found it unreachable, and that alone was not enough: the run waited on it.
      assert.match(run.stderr, /waiting for an unreachable member/);
      assert.match(run.stderr, /u2/);
      running.set('u4', await sandbox.startMember({ ip, settings: parseEnvOutput(run.stdout) }));
      await promote('u4', peerURLOf(ip), url);
      const list = await waitForVoters(
        endpoints().filter((u) => u !== hung.clientURL),
        ['u1', 'u3', 'u4'],
      );
      assert.ok(!list.some((m) => m.id === hung.id));
    } finally {
      await hung.kill();
    }
  });
});
