// The etcd adapter without etcd: error mapping and answer validation with canned bodies, served by a local
// HTTP stub so the real client code path (axios, fail-over, parsing) runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  EtcdClient,
  EtcdTlsConfigError,
  classifyEtcdError,
  errorFromAnswer,
  healthFromStatus,
  httpsAgentOptions,
  isEtcdError,
  supportsLinearizableMemberList,
  type MaintenanceStatus,
} from '../../src/adapters/etcd/index.js';
import { prefixRangeEnd } from '../../src/adapters/etcd/wire.js';

type Handler = (path: string, body: string, req: IncomingMessage) => { status: number; body: string };

/** A local stub of the gateway on 127.0.0.1 and a free port; answers with `handler`. */
async function stub(
  handler: Handler,
): Promise<{ url: string; requests: { path: string; body: string; auth?: string }[]; close: () => Promise<void> }> {
  const requests: { path: string; body: string; auth?: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const path = req.url ?? '';
      requests.push({ path, body, ...(req.headers.authorization !== undefined && { auth: req.headers.authorization }) });
      const answer = handler(path, body, req);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const VERSION = { status: 200, body: '{"etcdserver":"3.5.17","etcdcluster":"3.5.0"}' };
const BIG_ID = '14177956833228962174';

test('classifyEtcdError maps etcd 3.4 texts and gRPC codes', () => {
  const cases: [string | undefined, number | undefined, number | undefined, string][] = [
    ['etcdserver: unhealthy cluster', 14, 503, 'unhealthy-cluster'],
    ['etcdserver: re-configuration failed due to not enough started members', 9, 412, 'unhealthy-cluster'],
    ['etcdserver: Peer URLs already exists', 9, 412, 'peer-url-exists'],
    ['etcdserver: member not found', 5, 404, 'member-not-found'],
    ['etcdserver: too many learner members in cluster', 9, 412, 'too-many-learners'],
    ['etcdserver: can only promote a learner member which is in sync with leader', 9, 412, 'learner-not-ready'],
    ['etcdserver: can only promote a learner member', 9, 412, 'member-not-learner'],
    ['etcdserver: requested lease not found', 5, 404, 'lease-not-found'],
    ['etcdserver: permission denied', 7, 403, 'auth-required'],
    ['etcdserver: invalid auth token', 16, 401, 'auth-required'],
    ['etcdserver: user name is empty', 3, 400, 'auth-required'],
    ['etcdserver: authentication failed, invalid user ID or password', 3, 400, 'auth-required'],
    ['etcdserver: no leader', 14, 503, 'unavailable'],
    ['etcdserver: request timed out', 4, 504, 'timeout'],
    ['etcdserver: given member URLs are invalid', 3, 400, 'invalid-argument'],
    ['etcdserver: authentication is not enabled', 9, 412, 'other'],
    [undefined, undefined, 502, 'unavailable'],
    [undefined, undefined, 404, 'other'],
  ];
  for (const [message, grpc, http, expected] of cases) assert.equal(classifyEtcdError(message, grpc, http), expected, String(message));
});

test('errorFromAnswer keeps etcd raw message, gRPC code and HTTP status', () => {
  const err = errorFromAnswer(
    503,
    { error: 'etcdserver: unhealthy cluster', message: 'etcdserver: unhealthy cluster', code: 14 },
    '',
    'http://e:2379',
    '/v3/cluster/member/add',
  );
  assert.equal(err.code, 'unhealthy-cluster');
  assert.equal(err.etcdMessage, 'etcdserver: unhealthy cluster');
  assert.equal(err.grpcCode, 14);
  assert.equal(err.httpStatus, 503);
  assert.equal(err.endpoint, 'http://e:2379');
  const plain = errorFromAnswer(404, undefined, '404 page not found\n', 'http://e:2379', '/v3/x');
  assert.equal(plain.code, 'other');
  assert.match(plain.message, /404 page not found/);
});

test('member list: bigint IDs above 2^53, zero values filled in, linearizable on 3.5+', async (t) => {
  const server = await stub((path) => {
    if (path === '/version') return VERSION;
    return {
      status: 200,
      body: `{"header":{"cluster_id":"${BIG_ID}","member_id":"18446744073709551615"},"members":[{"ID":"${BIG_ID}","name":"a","peerURLs":["http://10.0.0.1:2380"],"clientURLs":["http://10.0.0.1:2379"]},{"ID":"9007199254740993","peerURLs":["http://10.0.0.2:2380"],"isLearner":true}]}`,
    };
  });
  t.after(() => server.close());
  const client = new EtcdClient({ endpoints: [server.url] });
  t.after(() => client.close());
  const list = await client.memberList();
  assert.equal(list.clusterId, 14177956833228962174n);
  assert.equal(list.memberId, 18446744073709551615n);
  assert.deepEqual(list.members, [
    { id: 14177956833228962174n, name: 'a', peerURLs: ['http://10.0.0.1:2380'], clientURLs: ['http://10.0.0.1:2379'], isLearner: false },
    { id: 9007199254740993n, name: '', peerURLs: ['http://10.0.0.2:2380'], clientURLs: [], isLearner: true },
  ]);
  assert.deepEqual(JSON.parse(server.requests.find((r) => r.path === '/v3/cluster/member/list')?.body ?? ''), { linearizable: true });
});

test('malformed answers are invalid-response errors, never crashes', async (t) => {
  const bodies = [
    'not json',
    '{"header":{"cluster_id":"1"},"members":[{"ID":12}]}', // ID as a JSON number
    '{"header":{"cluster_id":"1"},"members":[{"ID":"18446744073709551616"}]}', // above uint64
    '{"header":{"cluster_id":"1"},"members":[{"ID":"0"}]}',
    '{"header":{"cluster_id":"1"},"members":{"ID":"1"}}',
    '{"members":[]}', // no cluster ID
    '[]',
  ];
  let current = '';
  const server = await stub((path) => (path === '/version' ? VERSION : { status: 200, body: current }));
  t.after(() => server.close());
  const client = new EtcdClient({ endpoints: [server.url] });
  t.after(() => client.close());
  for (const body of bodies) {
    current = body;
    await assert.rejects(client.memberList(), (err) => isEtcdError(err, 'invalid-response'), body);
  }
});

test('fail-over: a 503 from the first endpoint moves on; a definitive error does not', async (t) => {
  const down = await stub(() => ({ status: 503, body: '{"error":"etcdserver: no leader","code":14}' }));
  const notFound = await stub(() => ({ status: 404, body: '{"error":"etcdserver: member not found","code":5}' }));
  const up = await stub((path) =>
    path === '/version' ? VERSION : { status: 200, body: '{"header":{"cluster_id":"7","member_id":"8"},"members":[]}' },
  );
  t.after(() => Promise.all([down.close(), notFound.close(), up.close()]));
  const client = new EtcdClient({ endpoints: [down.url, up.url] });
  t.after(() => client.close());
  assert.equal((await client.memberList()).endpoint, up.url);
  const definitive = new EtcdClient({ endpoints: [notFound.url, up.url] });
  t.after(() => definitive.close());
  await assert.rejects(definitive.memberRemove(5n), (err) => isEtcdError(err, 'member-not-found'));
  assert.equal(up.requests.filter((r) => r.path === '/v3/cluster/member/remove').length, 0);
  // All endpoints refuse the connection: unavailable.
  const nowhere = new EtcdClient({ endpoints: ['http://127.0.0.1:9'] });
  await assert.rejects(nowhere.status(), (err) => isEtcdError(err, 'unavailable'));
});

test('auth: authenticates first, sends the token, re-authenticates once on an invalid token', async (t) => {
  let issued = 0;
  let valid = '';
  const server = await stub((path, _body, req) => {
    if (path === '/v3/auth/authenticate') {
      valid = `token-${++issued}`;
      return { status: 200, body: `{"header":{},"token":"${valid}"}` };
    }
    if (req.headers.authorization !== valid) return { status: 401, body: '{"error":"etcdserver: invalid auth token","code":16}' };
    return { status: 200, body: '{"header":{"cluster_id":"1","member_id":"2"},"leader":"2"}' };
  });
  t.after(() => server.close());
  const client = new EtcdClient({ endpoints: [server.url], auth: { username: 'root', password: 'pw' } });
  t.after(() => client.close());
  await client.status();
  assert.deepEqual(JSON.parse(server.requests[0]?.body ?? ''), { name: 'root', password: 'pw' });
  assert.equal(server.requests[1]?.auth, 'token-1');
  valid = 'rotated-by-a-restart';
  await client.status();
  assert.equal(issued, 2, 'one re-authentication');
  assert.equal(server.requests.at(-1)?.auth, 'token-2');
});

test('invalid endpoints are rejected up front', () => {
  assert.throws(
    () => new EtcdClient({ endpoints: ['127.0.0.1:2379'] }),
    (err) => isEtcdError(err, 'invalid-argument'),
  );
  assert.throws(
    () => new EtcdClient({ endpoints: ['http://10.0.0.1'] }),
    (err) => isEtcdError(err, 'invalid-argument'),
  );
});

test('healthFromStatus: same cluster, same member, and a leader', () => {
  const member = { id: 5n, name: 'a', peerURLs: [], clientURLs: ['http://x:2379'], isLearner: false };
  const status: MaintenanceStatus = {
    clusterId: 1n,
    memberId: 5n,
    leader: 9n,
    raftIndex: 1n,
    raftTerm: 1n,
    raftAppliedIndex: 1n,
    isLearner: false,
    version: '3.4.23',
    dbSize: 0n,
    errors: [],
  };
  assert.equal(healthFromStatus(member, 1n, status), 'healthy');
  assert.equal(healthFromStatus(member, 2n, status), 'unreachable');
  assert.equal(healthFromStatus(member, 1n, { ...status, memberId: 6n }), 'unreachable');
  assert.equal(healthFromStatus(member, 1n, { ...status, leader: 0n }), 'unreachable');
});

test('TLS agent options: CA, client cert and key; a cert without key is a config error', () => {
  const options = httpsAgentOptions({ ca: 'CA-PEM', cert: 'CERT-PEM', key: 'KEY-PEM' });
  assert.equal(options.ca, 'CA-PEM');
  assert.equal(options.cert, 'CERT-PEM');
  assert.equal(options.key, 'KEY-PEM');
  assert.equal(options.rejectUnauthorized, true);
  assert.equal(options.keepAlive, true);
  assert.equal(httpsAgentOptions(undefined).rejectUnauthorized, true);
  assert.equal(httpsAgentOptions({ ca: 'x' }).cert, undefined);
  assert.throws(() => httpsAgentOptions({ cert: 'CERT-PEM' }), EtcdTlsConfigError);
  assert.throws(() => new EtcdClient({ endpoints: ['https://10.0.0.1:2379'], tls: { key: 'KEY' } }), EtcdTlsConfigError);
});

test('version awareness and prefix range ends', () => {
  assert.equal(supportsLinearizableMemberList('3.4.23'), false);
  assert.equal(supportsLinearizableMemberList('3.5.0'), true);
  assert.equal(supportsLinearizableMemberList('3.6.1'), true);
  assert.equal(supportsLinearizableMemberList(undefined), false);
  assert.equal(Buffer.from(prefixRangeEnd('/a/'), 'base64').toString(), '/a0');
  assert.deepEqual([...Buffer.from(prefixRangeEnd('a\u00ff'), 'base64')], [0x61, 0xc3, 0xc0]);
});
