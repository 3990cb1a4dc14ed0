// User/password auth against real etcd 3.4: no credentials is 'auth-required'; with credentials the client
// authenticates, and when its token is invalidated (auth disable + enable drops etcd's simple tokens) it
// re-authenticates once by itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdClient, isEtcdError } from '../../src/adapters/etcd/index.js';
import { etcdctlOk, startCluster } from '../harness/index.js';

test('auth: token login, auth-required without credentials, re-authentication on an invalid token', async (t) => {
  const cluster = await startCluster({ size: 1 });
  t.after(() => cluster.close());
  const [m1] = cluster.members;
  assert.ok(m1);
  await etcdctlOk(cluster.clientURLs, ['user', 'add', 'root:secret-pw']);
  await etcdctlOk(cluster.clientURLs, ['auth', 'enable']);

  const anonymous = new EtcdClient({ endpoints: cluster.clientURLs });
  t.after(() => anonymous.close());
  await assert.rejects(anonymous.get('k'), (err) => isEtcdError(err, 'auth-required'));

  const wrong = new EtcdClient({ endpoints: cluster.clientURLs, auth: { username: 'root', password: 'nope' } });
  t.after(() => wrong.close());
  await assert.rejects(wrong.get('k'), (err) => isEtcdError(err, 'auth-required') && /authentication failed/.test(err.etcdMessage ?? ''));

  const root = new EtcdClient({ endpoints: cluster.clientURLs, auth: { username: 'root', password: 'secret-pw' } });
  t.after(() => root.close());
  assert.equal((await root.putIfAbsent('k', 'v')).created, true);
  assert.equal((await root.get('k'))?.value, 'v');
  assert.equal((await root.memberList()).members.length, 1);

  // A token issued alongside the client's, to show the invalidation really happens.
  const login = await fetch(`${m1.clientURL}/v3/auth/authenticate`, { method: 'POST', body: '{"name":"root","password":"secret-pw"}' });
  const { token } = (await login.json()) as { token: string };
  await etcdctlOk(cluster.clientURLs, ['--user=root:secret-pw', 'auth', 'disable']);
  await etcdctlOk(cluster.clientURLs, ['auth', 'enable']);
  const stale = await fetch(`${m1.clientURL}/v3/kv/range`, { method: 'POST', body: '{"key":"aw=="}', headers: { authorization: token } });
  assert.match(await stale.text(), /invalid auth token/);
  assert.equal((await root.get('k'))?.value, 'v', 'the client logs in again by itself');
});
