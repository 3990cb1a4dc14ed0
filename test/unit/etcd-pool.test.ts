// The etcd client's shared connections (clientFor): kept alive across clients, per TLS identity, and a pooled
// connection the other side closed is sent again once on a new one. Served by a local HTTP stub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { EtcdClient, isEtcdError, sharedTransportAgents } from '../../src/adapters/etcd/index.js';
import { clientFor } from '../../src/services/connection.js';

const VERSION = JSON.stringify({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });
const CONNECTION = { requestTimeoutMs: 2000, healthTimeoutMs: 1000 };

/**
 * A gateway stub answering /version; it counts connections, and with `dropReused` it closes a connection,
 * without answering, when a second request arrives on it (as etcd closing a kept-alive connection as it is reused).
 */
async function stub(options: { dropReused?: boolean } = {}) {
  const requestsOn = new Map<Socket, number>();
  let connections = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const seen = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, seen);
    if (options.dropReused === true && seen > 1) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(VERSION));
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    server,
  };
}

test('clients from clientFor share one kept-alive connection; closing one leaves it open for the next', async () => {
  const gateway = await stub();
  try {
    for (let i = 0; i < 3; i++) {
      const client = clientFor([gateway.url], CONNECTION);
      assert.equal((await client.getVersion()).server, '3.4.23');
      client.close();
    }
    assert.equal(gateway.connections(), 1);
  } finally {
    gateway.server.closeAllConnections();
    await gateway.close();
  }
});

test('a client of its own opens and closes its own connections', async () => {
  const gateway = await stub();
  try {
    for (let i = 0; i < 2; i++) {
      const client = new EtcdClient({ endpoints: [gateway.url] });
      await client.getVersion();
      client.close();
    }
    assert.equal(gateway.connections(), 2);
  } finally {
    await gateway.close();
  }
});

test('a pooled connection closed by the other side as it is reused is sent again once, on a new connection', async () => {
  const gateway = await stub({ dropReused: true });
  try {
    const first = clientFor([gateway.url], CONNECTION);
    await first.getVersion();
    first.close();
    // The one endpoint, so no fail-over could hide a failure: the retry alone answers.
    const second = clientFor([gateway.url], CONNECTION);
    assert.equal((await second.getVersion()).server, '3.4.23');
    second.close();
    assert.equal(gateway.connections(), 2);
  } finally {
    gateway.server.closeAllConnections();
    await gateway.close();
  }
});

test("a fresh connection that fails is not sent again: the error is the caller's", async () => {
  const gateway = await stub();
  const url = gateway.url;
  await gateway.close(); // nothing listens there any more
  const client = clientFor([url], CONNECTION);
  await assert.rejects(client.getVersion(), (err: unknown) => isEtcdError(err, 'unavailable'));
  client.close();
});

test('shared agents are per TLS identity, by content', () => {
  const a = sharedTransportAgents(undefined);
  assert.equal(sharedTransportAgents(undefined), a);
  assert.notEqual(sharedTransportAgents({ rejectUnauthorized: false }), a);
  assert.equal(sharedTransportAgents({ rejectUnauthorized: false }), sharedTransportAgents({ rejectUnauthorized: false }));
});
