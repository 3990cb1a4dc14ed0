// The harness itself against real etcd: a static cluster, kill/restart, stop/resume, a discovery bootstrap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createCluster, etcdctl, etcdctlMemberList, readStatus, startCluster } from '../harness/index.js';

test('a 3-member static cluster: kill, restart, stop and resume a member', async (t) => {
  const cluster = await startCluster({ size: 3 });
  t.after(() => cluster.close());

  const listed = await etcdctlMemberList(cluster.clientURLs);
  assert.deepEqual(listed.members.map((m) => m.name).sort(), ['m1', 'm2', 'm3']);
  // IDs come through etcdctl's JSON losslessly: they match what each member reports about itself.
  const ids = new Set(listed.members.map((m) => m.id));
  for (const m of cluster.members) assert.ok(m.id !== undefined && ids.has(m.id), `member ${m.name} id ${String(m.id)}`);

  const [m1, m2, m3] = cluster.members;
  assert.ok(m1 && m2 && m3);
  await etcdctl([m1.clientURL], ['put', 'k', 'v1']);

  await m3.kill();
  assert.equal(m3.running, false);
  assert.equal(await readStatus(m3.clientURL, 500), undefined, 'a killed member does not answer');
  await m3.restart();
  const got = await etcdctl([m3.clientURL], ['get', 'k', '--print-value-only']);
  assert.equal(got.stdout.trim(), 'v1', 'restarted member kept its data');

  m2.stop();
  const started = Date.now();
  assert.equal(await readStatus(m2.clientURL, 500), undefined, 'a stopped member does not answer');
  assert.ok(Date.now() - started >= 400, 'a stopped member accepts the connection and times out rather than refusing');
  m2.resume();
  assert.notEqual(await readStatus(m2.clientURL, 2000), undefined, 'a resumed member answers again');

  await m1.kill();
  m1.wipe();
  assert.equal(existsSync(m1.dataDir), false);
});

test('a local discovery service bootstraps a cluster, and close() frees everything', async (t) => {
  const cluster = createCluster();
  t.after(() => cluster.close());
  const discovery = await cluster.startDiscoveryService();
  const url = await discovery.newDiscoveryURL(2);
  assert.match(url, new RegExp(`^${discovery.baseURL}/[0-9a-f]+$`));

  const members = await Promise.all(
    ['d1', 'd2'].map((name) => cluster.startMember({ settings: { ETCD_NAME: name, ETCD_DISCOVERY: url }, wait: 'none' })),
  );
  await Promise.all(members.map((m) => m.waitReady()));
  const listed = await etcdctlMemberList(members.map((m) => m.clientURL));
  assert.deepEqual(listed.members.map((m) => m.name).sort(), ['d1', 'd2']);

  const pids = members.map((m) => m.pid);
  await cluster.close();
  for (const pid of pids) assert.throws(() => process.kill(pid ?? 0, 0), 'process is gone after close()');
  assert.equal(existsSync(cluster.dir), false);
});

test('a member that refuses its configuration exits, and its log tail is available', async (t) => {
  const cluster = createCluster();
  t.after(() => cluster.close());
  const member = await cluster.startMember({
    flags: ['--name', 'bad', '--initial-cluster-state', 'existing', '--initial-cluster', 'bad=http://127.0.0.1:1'],
    wait: 'none',
  });
  const exit = await member.waitForExit(15_000);
  assert.notEqual(exit.code, 0);
  assert.match(member.logTail(), /cannot fetch cluster info/);
});
