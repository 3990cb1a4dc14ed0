// The discovery HTTP client against a local fake service: an in-memory etcd v2 keys registry (the shape
// discovery.etcd.io proxies), plus canned answers for the error paths.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  DiscoveryError,
  deregister,
  readRegistry,
  readSize,
  register,
  type DiscoveryErrorCode,
} from '../../src/adapters/discovery/index.js';

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: string;
}

type Handler = (req: Recorded, res: ServerResponse) => void;

/** An etcd v2 keys emulation of one discovery token: enough of GET/PUT(prevExist=false)/DELETE to round-trip. */
class FakeRegistry {
  readonly keys = new Map<string, { value: string; createdIndex: number }>();
  index = 4;
  constructor(
    readonly token: string,
    public size: string,
  ) {}

  handle(req: Recorded, res: ServerResponse): void {
    const url = new URL(req.url, 'http://fake');
    const [token, ...rest] = url.pathname.split('/').filter((s) => s !== '');
    const dir = `/_etcd/registry/${token ?? ''}`;
    const notFound = (cause: string) => reply(res, 404, { errorCode: 100, message: 'Key not found', cause, index: this.index });
    if (token !== this.token) return notFound(dir);
    const key = rest.join('/');
    if (req.method === 'GET' && key === '') {
      const nodes = [...this.keys].map(([k, v]) => ({
        key: `${dir}/${k}`,
        value: v.value,
        modifiedIndex: v.createdIndex,
        createdIndex: v.createdIndex,
      }));
      return reply(res, 200, {
        action: 'get',
        node: { key: dir, dir: true, ...(nodes.length > 0 ? { nodes } : {}), modifiedIndex: 4, createdIndex: 4 },
      });
    }
    if (req.method === 'GET' && key === '_config/size') {
      return reply(res, 200, { action: 'get', node: { key: `${dir}/_config/size`, value: this.size, modifiedIndex: 4, createdIndex: 4 } });
    }
    const existing = this.keys.get(key);
    if (req.method === 'GET') {
      if (!existing) return notFound(`${dir}/${key}`);
      return reply(res, 200, { action: 'get', node: { key: `${dir}/${key}`, value: existing.value, createdIndex: existing.createdIndex } });
    }
    if (req.method === 'PUT') {
      assert.equal(url.searchParams.get('prevExist'), 'false', 'register must never overwrite');
      if (existing) return reply(res, 412, { errorCode: 105, message: 'Key already exists', cause: `${dir}/${key}`, index: this.index });
      const value = new URLSearchParams(req.body).get('value') ?? '';
      this.keys.set(key, { value, createdIndex: ++this.index });
      return reply(res, 201, { action: 'create', node: { key: `${dir}/${key}`, value, createdIndex: this.index } });
    }
    if (req.method === 'DELETE') {
      if (!existing) return notFound(`${dir}/${key}`);
      this.keys.delete(key);
      return reply(res, 200, { action: 'delete', node: { key: `${dir}/${key}` } });
    }
    reply(res, 405, 'method not allowed');
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

function isCode(code: DiscoveryErrorCode, check?: (err: DiscoveryError) => void) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DiscoveryError, `expected a DiscoveryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    check?.(err);
    return true;
  };
}

describe('discovery client against a fake service', () => {
  let server: Server;
  let base: string;
  let handler: Handler;
  let requests: Recorded[];
  let registry: FakeRegistry;
  let discoveryURL: string;
  /** Requests the test deliberately leaves hanging; ended in `after` so the server can close. */
  const hanging: ServerResponse[] = [];

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const recorded: Recorded = {
          method: req.method ?? '',
          url: req.url ?? '',
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        };
        requests.push(recorded);
        handler(recorded, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  beforeEach(() => {
    requests = [];
    registry = new FakeRegistry('tok123', '3');
    handler = (req, res) => registry.handle(req, res);
    discoveryURL = `${base}/tok123`;
  });

  describe('readRegistry', () => {
    test('a new token: empty registry, one plain GET (trailing slash of the URL tolerated)', async () => {
      assert.deepEqual(await readRegistry(`${discoveryURL}//`), { entries: [], problems: [] });
      assert.deepEqual(
        requests.map((r) => `${r.method} ${r.url}`),
        ['GET /tok123'],
      );
    });

    test('an unknown token is not-found with the status', async () => {
      await assert.rejects(
        readRegistry(`${base}/nope`),
        isCode('not-found', (e) => assert.equal(e.status, 404)),
      );
    });

    test('502/503/504 are unavailable, other statuses http-error; both carry the status and a body excerpt', async () => {
      handler = (_req, res) => reply(res, 503, 'etcd backend down');
      await assert.rejects(
        readRegistry(discoveryURL),
        isCode('unavailable', (e) => {
          assert.equal(e.status, 503);
          assert.match(e.message, /HTTP 503: etcd backend down/);
        }),
      );
      handler = (_req, res) => reply(res, 500, `boom ${'x'.repeat(1000)}`);
      await assert.rejects(
        readRegistry(discoveryURL),
        isCode('http-error', (e) => {
          assert.equal(e.status, 500);
          assert.ok(e.message.length < 400, 'the body is quoted as a short excerpt');
        }),
      );
    });

    test('a 200 that is not a registry is invalid-response', async () => {
      handler = (_req, res) => reply(res, 200, '<html>captive portal</html>');
      await assert.rejects(
        readRegistry(discoveryURL),
        isCode('invalid-response', (e) => assert.match(e.message, /captive portal/)),
      );
    });

    test('a bad discovery URL fails before any request', async () => {
      await assert.rejects(readRegistry('ftp://x/tok'), isCode('invalid-url'));
      assert.equal(requests.length, 0);
    });

    test('a refused connection is unavailable', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      await assert.rejects(
        readRegistry(`http://127.0.0.1:${port}/tok`),
        isCode('unavailable', (e) => assert.match(e.message, /ECONNREFUSED/)),
      );
    });

    test('a service that never answers is a timeout after the per-request bound', async () => {
      handler = (_req, res) => hanging.push(res);
      await assert.rejects(
        readRegistry(discoveryURL, { timeoutMs: 150 }),
        isCode('timeout', (e) => assert.match(e.message, /timed out after 150 ms/)),
      );
    });

    test("the caller's AbortSignal aborts a pending request, and an aborted signal sends nothing", async () => {
      const controller = new AbortController();
      handler = (_req, res) => {
        hanging.push(res);
        controller.abort();
      };
      await assert.rejects(readRegistry(discoveryURL, { signal: controller.signal }), isCode('aborted'));
      const before = requests.length;
      await assert.rejects(readRegistry(discoveryURL, { signal: AbortSignal.abort() }), isCode('aborted'));
      assert.equal(requests.length, before);
    });
  });

  describe('readSize', () => {
    test('reads _config/size', async () => {
      assert.equal(await readSize(discoveryURL), 3);
      assert.deepEqual(
        requests.map((r) => `${r.method} ${r.url}`),
        ['GET /tok123/_config/size'],
      );
    });

    test('garbage, 0 and negative sizes are invalid-response, not 0 (B7)', async () => {
      for (const size of ['garbage', '0', '-3']) {
        registry.size = size;
        await assert.rejects(
          readSize(discoveryURL),
          isCode('invalid-response', (e) => assert.match(e.message, /cluster size/)),
        );
      }
    });

    test('an unknown token is not-found', async () => {
      await assert.rejects(readSize(`${base}/nope`), isCode('not-found'));
    });
  });

  describe('register and deregister', () => {
    const id = 0xc4c3e4f0a1b2d3e4n; // above 2^53

    test('register PUTs a form value with every URL under the hex ID, prevExist=false; readRegistry sees it', async () => {
      assert.equal(await register(discoveryURL, id, 'n1', ['http://10.0.0.1:2380', 'http://[fd00::1]:2380']), 'created');
      const put = requests[0];
      assert.equal(put?.method, 'PUT');
      assert.equal(put?.url, '/tok123/c4c3e4f0a1b2d3e4?prevExist=false');
      assert.equal(put?.contentType, 'application/x-www-form-urlencoded');
      assert.equal(new URLSearchParams(put?.body).get('value'), 'n1=http://10.0.0.1:2380,n1=http://[fd00::1]:2380');
      assert.deepEqual((await readRegistry(discoveryURL)).entries, [
        { id, name: 'n1', peerURLs: ['http://10.0.0.1:2380', 'http://[fd00::1]:2380'], createdIndex: 5 },
      ]);
    });

    test('registering the same value again is success without a write (idempotent)', async () => {
      await register(discoveryURL, id, 'n1', ['http://10.0.0.1:2380']);
      // Different spelling and order of the same URL set still counts as the same registration.
      assert.equal(await register(discoveryURL, id, 'n1', ['HTTP://10.0.0.1:2380']), 'already-registered');
      assert.equal(registry.keys.get('c4c3e4f0a1b2d3e4')?.value, 'n1=http://10.0.0.1:2380');
    });

    test('register never overwrites a different value: conflict, and the old value stays', async () => {
      await register(discoveryURL, id, 'n1', ['http://10.0.0.1:2380']);
      await assert.rejects(
        register(discoveryURL, id, 'n2', ['http://10.0.0.1:2380']),
        isCode('conflict', (e) => assert.match(e.message, /already registered .* as "n1=http:\/\/10.0.0.1:2380"/)),
      );
      await assert.rejects(register(discoveryURL, id, 'n1', ['http://10.0.0.9:2380']), isCode('conflict'));
      assert.equal(registry.keys.get('c4c3e4f0a1b2d3e4')?.value, 'n1=http://10.0.0.1:2380');
    });

    test('a garbage existing value is a conflict too', async () => {
      registry.keys.set('c4c3e4f0a1b2d3e4', { value: 'garbage', createdIndex: 5 });
      await assert.rejects(register(discoveryURL, id, 'n1', ['http://10.0.0.1:2380']), isCode('conflict'));
    });

    test('bad arguments are invalid-argument and send nothing', async () => {
      for (const [badId, name, urls] of [
        [0n, 'n1', ['http://10.0.0.1:2380']],
        [1n << 64n, 'n1', ['http://10.0.0.1:2380']],
        [id, '', ['http://10.0.0.1:2380']],
        [id, 'a,b', ['http://10.0.0.1:2380']],
        [id, 'a=b', ['http://10.0.0.1:2380']],
        [id, ' n1', ['http://10.0.0.1:2380']],
        [id, 'n1', []],
        [id, 'n1', ['10.0.0.1:2380']],
        [id, 'n1', ['http://10.0.0.1']],
      ] as const) {
        await assert.rejects(register(discoveryURL, badId, name, urls), isCode('invalid-argument'), `${badId} ${name} ${urls.join()}`);
      }
      await assert.rejects(deregister(discoveryURL, -1n), isCode('invalid-argument'));
      assert.equal(requests.length, 0);
    });

    test('deregister deletes, and a second deregister is already-gone (idempotent)', async () => {
      await register(discoveryURL, id, 'n1', ['http://10.0.0.1:2380']);
      assert.equal(await deregister(discoveryURL, id), 'deleted');
      assert.equal(requests.at(-1)?.method, 'DELETE');
      assert.equal(requests.at(-1)?.url, '/tok123/c4c3e4f0a1b2d3e4');
      assert.equal(await deregister(discoveryURL, id), 'already-gone');
      assert.deepEqual((await readRegistry(discoveryURL)).entries, []);
    });

    test('deregister on an unknown token is not-found, not a silent success', async () => {
      await assert.rejects(
        deregister(`${base}/nope`, id),
        isCode('not-found', (e) => assert.match(e.message, /\/_etcd\/registry\/nope/)),
      );
    });

    test('a 404 without an etcd error body counts as already gone', async () => {
      handler = (_req, res) => reply(res, 404, 'not found');
      assert.equal(await deregister(discoveryURL, id), 'already-gone');
    });

    test('unexpected statuses on PUT and DELETE are typed errors', async () => {
      handler = (_req, res) => reply(res, 403, 'forbidden');
      await assert.rejects(
        register(discoveryURL, id, 'n1', ['http://10.0.0.1:2380']),
        isCode('http-error', (e) => assert.equal(e.status, 403)),
      );
      await assert.rejects(
        deregister(discoveryURL, id),
        isCode('http-error', (e) => assert.equal(e.status, 403)),
      );
    });
  });
});
