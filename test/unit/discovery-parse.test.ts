// Pure parsing of discovery answers, with the registries that crashed or misled the original tool (B4-B7, B12).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DiscoveryError,
  bootstrapEntries,
  deriveClientEndpoints,
  formatRegistryValue,
  parseDiscoveryURL,
  parseRegistryResponse,
  parseRegistryValue,
  parseSizeResponse,
  type RegistryEntry,
} from '../../src/adapters/discovery/index.js';

const URL_ = 'http://127.0.1.1:8087/abc';
const DIR = '/_etcd/registry/abc';

function registryBody(nodes: readonly unknown[] | undefined): string {
  return JSON.stringify({ action: 'get', node: { key: DIR, dir: true, ...(nodes ? { nodes } : {}), modifiedIndex: 4, createdIndex: 4 } });
}
function child(key: string, value: string | undefined, createdIndex: number): unknown {
  return { key: `${DIR}/${key}`, ...(value === undefined ? {} : { value }), modifiedIndex: createdIndex, createdIndex };
}
function isCode(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DiscoveryError, `expected a DiscoveryError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (pattern) assert.match(err.message, pattern);
    return true;
  };
}

describe('parseDiscoveryURL', () => {
  test('strips trailing slashes and surrounding space, keeps the rest as given', () => {
    assert.equal(
      parseDiscoveryURL(' https://discovery.etcd.io/3e86b59982e49066c5d813af1c2e2579cbf573de/// '),
      'https://discovery.etcd.io/3e86b59982e49066c5d813af1c2e2579cbf573de',
    );
    assert.equal(parseDiscoveryURL('http://127.0.1.1:8087/tok'), 'http://127.0.1.1:8087/tok');
    assert.equal(parseDiscoveryURL('http://[fd00::1]:8087/tok/'), 'http://[fd00::1]:8087/tok');
  });

  for (const [raw, reason] of [
    ['', /not a URL/],
    ['discovery.etcd.io/tok', /not a URL/],
    ['ftp://discovery.etcd.io/tok', /scheme must be http or https/],
    ['file:///tmp/tok', /scheme must be http or https/],
    ['https://discovery.etcd.io', /missing the token path/],
    ['https://discovery.etcd.io///', /missing the token path/],
    ['https://discovery.etcd.io/tok?x=1', /query or fragment/],
    ['https://discovery.etcd.io/tok#frag', /query or fragment/],
  ] as const) {
    test(`rejects ${JSON.stringify(raw)} with a typed invalid-url error`, () => {
      assert.throws(() => parseDiscoveryURL(raw), isCode('invalid-url', reason));
    });
  }
});

describe('parseRegistryResponse', () => {
  test('parses the real service answer (member IDs above 2^53 stay exact)', () => {
    const body = registryBody([child('c4c3e4f0a1b2d3e4', 'n1=http://127.0.0.11:2380', 7), child('1f', 'n2=http://127.0.0.12:2380', 8)]);
    const registry = parseRegistryResponse(body, URL_);
    assert.deepEqual(registry, {
      entries: [
        { id: 0xc4c3e4f0a1b2d3e4n, name: 'n1', peerURLs: ['http://127.0.0.11:2380'], createdIndex: 7 },
        { id: 0x1fn, name: 'n2', peerURLs: ['http://127.0.0.12:2380'], createdIndex: 8 },
      ],
      problems: [],
    });
    assert.equal(registry.entries[0]?.id.toString(10), '14178427774048588772');
  });

  test('an empty registry (no nodes field) has no entries', () => {
    assert.deepEqual(parseRegistryResponse(registryBody(undefined), URL_), { entries: [], problems: [] });
  });

  test('orders entries by createdIndex, not by answer order', () => {
    const body = registryBody([
      child('3', 'c=http://10.0.0.3:2380', 30),
      child('1', 'a=http://10.0.0.1:2380', 10),
      child('2', 'b=http://10.0.0.2:2380', 20),
    ]);
    assert.deepEqual(
      parseRegistryResponse(body, URL_).entries.map((e) => e.name),
      ['a', 'b', 'c'],
    );
  });

  test('skips _config silently, whether listed as a dir or a key', () => {
    const body = registryBody([
      { key: `${DIR}/_config`, dir: true, createdIndex: 4 },
      child('_config', 'x', 5),
      child('a', 'n=http://10.0.0.1:2380', 6),
    ]);
    assert.deepEqual(parseRegistryResponse(body, URL_), {
      entries: [{ id: 10n, name: 'n', peerURLs: ['http://10.0.0.1:2380'], createdIndex: 6 }],
      problems: [],
    });
  });

  test('IPv6 peer URLs work and multiple URLs of one member are kept in order (B6)', () => {
    const body = registryBody([child('a1', 'n1=http://[fd00::1]:2380,n1=https://[FD00::2]:2381', 5)]);
    assert.deepEqual(parseRegistryResponse(body, URL_).entries[0]?.peerURLs, ['http://[fd00::1]:2380', 'https://[fd00::2]:2381']);
  });

  test('every bad entry is reported with its key and skipped, good ones survive (B4, B5)', () => {
    const body = registryBody([
      child('a1', undefined, 1), // B4: no value
      child('a2', '', 2),
      child('a3', 'http://10.0.0.3:2380', 3), // B5: no '='
      child('a4', 'n4=10.0.0.4', 4), // B5: not a URL (no ':' scheme split)
      child('a5', 'n5=http://10.0.0.5:2380,other=http://10.0.0.6:2380', 5),
      child('a6', 'n6=http://10.0.0.6', 6), // no port
      child('a7', '=http://10.0.0.7:2380', 7),
      child('not-hex', 'n8=http://10.0.0.8:2380', 8),
      child('0', 'n9=http://10.0.0.9:2380', 9), // ID 0 is not a member ID
      child('1ffffffffffffffff', 'n10=http://10.0.0.10:2380', 10), // above uint64
      { key: `${DIR}/a11`, dir: true, createdIndex: 11 },
      { key: `${DIR}/a12`, value: 'n12=http://10.0.0.12:2380' }, // no createdIndex
      'garbage',
      child('a14', 'n14=http://10.0.0.14:2380,', 14),
      child('b1', 'good=http://10.0.0.99:2380', 15),
    ]);
    const { entries, problems } = parseRegistryResponse(body, URL_);
    assert.deepEqual(entries, [{ id: 0xb1n, name: 'good', peerURLs: ['http://10.0.0.99:2380'], createdIndex: 15 }]);
    const reasons = new Map(problems.map((p) => [p.key, p.reason]));
    assert.equal(problems.length, 14);
    assert.match(reasons.get('a1') ?? '', /no value/);
    assert.match(reasons.get('a2') ?? '', /no value/);
    assert.match(reasons.get('a3') ?? '', /not name=peerURL/);
    assert.match(reasons.get('a4') ?? '', /invalid URL/);
    assert.match(reasons.get('a5') ?? '', /different names/);
    assert.match(reasons.get('a6') ?? '', /explicit port/);
    assert.match(reasons.get('a7') ?? '', /empty name/);
    assert.match(reasons.get('not-hex') ?? '', /not a hex member ID/);
    assert.match(reasons.get('0') ?? '', /not a hex member ID/);
    assert.match(reasons.get('1ffffffffffffffff') ?? '', /not a hex member ID/);
    assert.match(reasons.get('a11') ?? '', /directory/);
    assert.match(reasons.get('a12') ?? '', /malformed registry node/);
    assert.match(reasons.get('(no key)') ?? '', /malformed registry node/);
    assert.match(reasons.get('a14') ?? '', /not name=peerURL/);
  });

  test('the same member ID twice (different spelling) keeps the first and reports the second', () => {
    const body = registryBody([child('ab', 'n=http://10.0.0.1:2380', 1), child('AB', 'n=http://10.0.0.1:2380', 2)]);
    const { entries, problems } = parseRegistryResponse(body, URL_);
    assert.equal(entries.length, 1);
    assert.deepEqual(problems, [{ key: 'AB', reason: 'duplicate member ID' }]);
  });

  for (const [what, body] of [
    ['not JSON', '<html>502 Bad Gateway</html>'],
    ['JSON without node', '{"action":"get"}'],
    ['a key instead of a directory', JSON.stringify({ action: 'get', node: { key: `${DIR}/x`, value: 'v', createdIndex: 1 } })],
    ['nodes not an array', JSON.stringify({ node: { key: DIR, dir: true, nodes: {} } })],
    ['null', 'null'],
  ] as const) {
    test(`a whole answer that is ${what} is an invalid-response error quoting the body`, () => {
      assert.throws(() => parseRegistryResponse(body, URL_), isCode('invalid-response', new RegExp(`invalid answer from ${URL_}.*body: `)));
    });
  }
});

describe('parseRegistryValue and formatRegistryValue', () => {
  test('round trip with several URLs (canonical form, duplicates dropped)', () => {
    const value = formatRegistryValue('n1', ['http://10.0.0.1:2380', 'http://[fd00::1]:2380']);
    assert.equal(value, 'n1=http://10.0.0.1:2380,n1=http://[fd00::1]:2380');
    assert.deepEqual(parseRegistryValue(value), { ok: true, name: 'n1', peerURLs: ['http://10.0.0.1:2380', 'http://[fd00::1]:2380'] });
    assert.deepEqual(parseRegistryValue('n1=HTTP://Host:2380,n1=http://host:2380'), {
      ok: true,
      name: 'n1',
      peerURLs: ['http://host:2380'],
    });
  });

  test('a name may contain characters other than , and =', () => {
    assert.deepEqual(parseRegistryValue('ip-10-0-0-1.ec2.internal=http://10.0.0.1:2380'), {
      ok: true,
      name: 'ip-10-0-0-1.ec2.internal',
      peerURLs: ['http://10.0.0.1:2380'],
    });
  });
});

describe('parseSizeResponse', () => {
  const sizeBody = (value: unknown) =>
    JSON.stringify({ action: 'get', node: { key: `${DIR}/_config/size`, value, modifiedIndex: 4, createdIndex: 4 } });

  test('reads the size the service stores', () => {
    assert.equal(parseSizeResponse(sizeBody('3'), URL_), 3);
    assert.equal(parseSizeResponse(sizeBody(' 5\n'), URL_), 5);
    assert.equal(parseSizeResponse(sizeBody('2147483647'), URL_), 2147483647);
  });

  for (const value of ['abc', '', '0', '-1', '3.5', '1e3', '0x10', '2147483648', '99999999999999999999', '+3']) {
    test(`size ${JSON.stringify(value)} is an invalid-response error, not a silent 0 (B7)`, () => {
      assert.throws(
        () => parseSizeResponse(sizeBody(value), URL_),
        isCode('invalid-response', /cluster size .* is not an integer from 1 to 2147483647/),
      );
    });
  }

  for (const [what, body] of [
    ['a number, not a string', sizeBody(3)],
    ['missing value', JSON.stringify({ node: { key: 'k' } })],
    ['not JSON', 'size: 3'],
  ] as const) {
    test(`an answer with ${what} is an invalid-response error`, () => {
      assert.throws(() => parseSizeResponse(body, URL_), isCode('invalid-response'));
    });
  }
});

describe('bootstrapEntries and deriveClientEndpoints', () => {
  const entry = (id: bigint, name: string, peerURLs: string[], createdIndex: number): RegistryEntry => ({
    id,
    name,
    peerURLs,
    createdIndex,
  });

  test('more registrants than the size: the first `size` by creation form the cluster (B12)', () => {
    const body = registryBody([
      child('4', 'd=http://10.0.0.4:2380', 40),
      child('1', 'a=http://10.0.0.1:2380', 10),
      child('3', 'c=http://10.0.0.3:2380', 30),
      child('2', 'b=http://10.0.0.2:2380', 20),
    ]);
    const registry = parseRegistryResponse(body, URL_);
    assert.deepEqual(
      bootstrapEntries(registry, 3).map((e) => e.name),
      ['a', 'b', 'c'],
    );
    assert.equal(bootstrapEntries(registry, 10).length, 4);
  });

  test('client endpoints keep the peer scheme and host (IPv6 too) with the client port, without duplicates', () => {
    const entries = [
      entry(1n, 'a', ['http://10.0.0.1:2380', 'http://[fd00::1]:2380'], 1),
      entry(2n, 'b', ['https://etcd-b.internal:12380'], 2),
      entry(3n, 'c', ['http://10.0.0.1:2390'], 3),
    ];
    assert.deepEqual(deriveClientEndpoints(entries, 2379), [
      'http://10.0.0.1:2379',
      'http://[fd00::1]:2379',
      'https://etcd-b.internal:2379',
    ]);
    assert.deepEqual(deriveClientEndpoints([], 2379), []);
  });
});
