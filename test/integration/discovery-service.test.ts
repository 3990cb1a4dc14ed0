// The discovery adapter against the real discovery.etcd.io service (backed by a real v2-enabled etcd) and
// real etcd members that bootstrap through it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DiscoveryError,
  deregister,
  deriveClientEndpoints,
  readRegistry,
  readSize,
  register,
  type DiscoveryErrorCode,
} from '../../src/adapters/discovery/index.js';
import { CLIENT_PORT, createCluster, etcdctlMemberList, type DiscoveryService, type EtcdCluster } from '../harness/index.js';

function isCode(code: DiscoveryErrorCode) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DiscoveryError, `expected a DiscoveryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('discovery adapter against the real discovery service', () => {
  let sandbox: EtcdCluster;
  let service: DiscoveryService;

  before(async () => {
    sandbox = createCluster();
    service = await sandbox.startDiscoveryService();
  });
  after(async () => {
    await sandbox.close();
  });

  test('a new token: empty registry and the requested size', async () => {
    const url = await service.newDiscoveryURL(3);
    assert.deepEqual(await readRegistry(url), { entries: [], problems: [] });
    assert.equal(await readSize(url), 3);
    assert.equal(await readSize(`${url}/`), 3);
  });

  test('the service accepts size=0; reading it is an error, not a silent 0 (B7)', async () => {
    const url = await service.newDiscoveryURL(0);
    await assert.rejects(readSize(url), isCode('invalid-response'));
  });

  test('three real members bootstrapped through a token: the registry lists their IDs in hex', async () => {
    const url = await service.newDiscoveryURL(3);
    const members = [];
    for (const name of ['d1', 'd2', 'd3']) {
      members.push(await sandbox.startMember({ settings: { ETCD_NAME: name, ETCD_DISCOVERY: url }, wait: 'none' }));
    }
    await Promise.all(members.map((m) => m.waitReady()));

    const registry = await readRegistry(url);
    assert.deepEqual(registry.problems, []);
    const listed = await etcdctlMemberList(members.map((m) => m.clientURL));
    const byId = (a: { id: bigint }, b: { id: bigint }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    assert.deepEqual(
      registry.entries.map((e) => ({ id: e.id, name: e.name, peerURLs: [...e.peerURLs] })).sort(byId),
      listed.members.map((m) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs })).sort(byId),
    );
    // Creation order is kept, and deriving client endpoints from the registry finds the real members.
    const indexes = registry.entries.map((e) => e.createdIndex);
    assert.deepEqual(
      indexes,
      [...indexes].sort((a, b) => a - b),
    );
    assert.deepEqual(new Set(deriveClientEndpoints(registry.entries, CLIENT_PORT)), new Set(members.map((m) => m.clientURL)));
  });

  test('register/deregister round trip: idempotent, and register never overwrites', async () => {
    const url = await service.newDiscoveryURL(3);
    const id = 0xfedcba9876543210n; // above 2^53
    const peerURLs = ['http://127.0.0.99:2380', 'http://[fd00::99]:2380'];

    assert.equal(await register(url, id, 'n9', peerURLs), 'created');
    assert.equal(await register(url, id, 'n9', [...peerURLs].reverse()), 'already-registered');
    await assert.rejects(register(url, id, 'other', peerURLs), isCode('conflict'));
    await assert.rejects(register(url, id, 'n9', ['http://127.0.0.98:2380']), isCode('conflict'));

    const registry = await readRegistry(url);
    assert.deepEqual(
      registry.entries.map((e) => ({ id: e.id, name: e.name, peerURLs: e.peerURLs })),
      [{ id, name: 'n9', peerURLs }],
    );

    assert.equal(await deregister(url, id), 'deleted');
    assert.equal(await deregister(url, id), 'already-gone');
    assert.deepEqual(await readRegistry(url), { entries: [], problems: [] });
    // The size lives under the hidden _config key and survives member churn.
    assert.equal(await readSize(url), 3);
  });

  test('an unknown token is not-found for every read and for deregister', async () => {
    const unknown = `${service.baseURL}/00000000000000000000000000000000`;
    await assert.rejects(readRegistry(unknown), isCode('not-found'));
    await assert.rejects(readSize(unknown), isCode('not-found'));
    await assert.rejects(deregister(unknown, 1n), isCode('not-found'));
  });
});
