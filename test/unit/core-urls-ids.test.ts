// The core's URL and member-ID helpers, table by table: etcd's rules for member URLs, comparison as sets, and
// uint64 IDs above 2^53 in both spellings etcd uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidMemberIdError, memberIdToDecimal, memberIdToHex, parseDecimalMemberId, parseHexMemberId } from '../../src/core/ids.js';
import { quorumOf } from '../../src/core/quorum.js';
import {
  canonicalURL,
  deriveClientURL,
  hostOf,
  InvalidURLError,
  parseMemberURL,
  parseMemberURLList,
  sameURLSet,
  urlsOverlap,
} from '../../src/core/urls.js';

test('member URLs: canonical form of valid ones', () => {
  const cases: [string, string][] = [
    ['http://10.0.0.1:2380', 'http://10.0.0.1:2380'],
    ['  HTTP://Node-1.Example:2380/  ', 'http://node-1.example:2380'],
    ['https://10.0.0.1:443', 'https://10.0.0.1:443'],
    ['http://10.0.0.1:80', 'http://10.0.0.1:80'],
    ['http://[FD00::1]:2380', 'http://[fd00::1]:2380'],
  ];
  for (const [raw, canonical] of cases) assert.equal(parseMemberURL(raw), canonical, raw);
});

test('member URLs: each broken rule is refused with its own reason', () => {
  const cases: [string, RegExp][] = [
    ['not a url', /not a URL/],
    ['ftp://10.0.0.1:2380', /scheme must be http or https/],
    ['http://user:pw@10.0.0.1:2380', /credentials are not allowed/],
    ['http://user@10.0.0.1:2380', /credentials are not allowed/],
    ['http://:pw@10.0.0.1:2380', /credentials are not allowed/],
    ['http://10.0.0.1:2380/path', /a path is not allowed/],
    ['http://10.0.0.1:2380?x=1', /a query or fragment is not allowed/],
    ['http://10.0.0.1:2380#frag', /a query or fragment is not allowed/],
    ['http://10.0.0.1', /an explicit port is required/],
    ['http://[fd00::1]', /an explicit port is required/],
    ['http://10.0.0.1:', /an explicit port is required/],
    ['http://10.0.0.1:2380x', /not a URL/],
    ['file:///tmp/x', /scheme must be http or https/],
  ];
  for (const [raw, reason] of cases) {
    assert.throws(
      () => parseMemberURL(raw),
      (err: unknown) =>
        err instanceof InvalidURLError &&
        err.name === 'InvalidURLError' &&
        err.raw === raw &&
        reason.test(err.message) &&
        err.message.startsWith(`invalid URL ${JSON.stringify(raw)}: `),
      raw,
    );
  }
});

test('member URLs: an explicit port is looked for in the authority only', () => {
  // An empty query or fragment is no query or fragment to WHATWG; the port check must stop before it.
  assert.equal(parseMemberURL('http://10.0.0.1:2380?'), 'http://10.0.0.1:2380');
  assert.equal(parseMemberURL('http://10.0.0.1:2380#'), 'http://10.0.0.1:2380');
  assert.equal(parseMemberURL('http://10.0.0.1:2380/'), 'http://10.0.0.1:2380');
  assert.throws(() => parseMemberURL('http://10.0.0.1?'), /an explicit port is required/);
  assert.throws(() => parseMemberURL('http://10.0.0.1#'), /an explicit port is required/);
  assert.throws(() => parseMemberURL('http://10.0.0.1/'), /an explicit port is required/);
  assert.throws(() => parseMemberURL('10.0.0.1:2380'), /not a URL|scheme/);
});

test('URL lists: split on commas, blanks dropped, empty lists and duplicates refused', () => {
  assert.deepEqual(parseMemberURLList('http://10.0.0.1:2380, http://10.0.0.2:2380,'), ['http://10.0.0.1:2380', 'http://10.0.0.2:2380']);
  assert.throws(
    () => parseMemberURLList(' , '),
    (err: unknown) => err instanceof InvalidURLError && /at least one URL is required/.test(err.message),
  );
  assert.throws(() => parseMemberURLList('http://10.0.0.1:2380,HTTP://10.0.0.1:2380/'), /duplicate URLs/);
  assert.throws(() => parseMemberURLList('http://10.0.0.1:2380,http://x'), /an explicit port is required/);
});

test('URL comparison: as sets, spelling aside; unparsable URLs compare by trimmed text', () => {
  assert.equal(canonicalURL(' HTTP://A:1 '), 'http://a:1');
  assert.equal(canonicalURL(' not a url '), 'not a url');
  assert.ok(sameURLSet(['http://a:1', 'http://b:2'], ['HTTP://B:2/', 'http://a:1']));
  assert.ok(sameURLSet(['http://a:1', 'http://a:1'], ['http://a:1']));
  assert.ok(!sameURLSet(['http://a:1'], ['http://a:1', 'http://b:2']));
  assert.ok(!sameURLSet(['http://a:1', 'http://b:2'], ['http://a:1', 'http://c:3']));
  assert.ok(!sameURLSet(['http://a:1', 'http://b:2'], ['http://a:1']));
  assert.ok(sameURLSet([], []));
  assert.ok(urlsOverlap(['http://x:9', 'http://A:1'], ['http://b:2', 'http://a:1/']));
  assert.ok(!urlsOverlap(['http://a:1'], ['http://a:2']));
  assert.ok(!urlsOverlap([], ['http://a:1']));
  assert.ok(!urlsOverlap(['http://a:1'], []));
});

test('client URL and host of a peer URL', () => {
  assert.equal(deriveClientURL('https://10.0.0.1:2380', 2379), 'https://10.0.0.1:2379');
  assert.equal(deriveClientURL('http://[fd00::1]:2380', 2379), 'http://[fd00::1]:2379');
  assert.throws(() => deriveClientURL('http://10.0.0.1', 2379), InvalidURLError);
  assert.equal(hostOf('http://10.0.0.1:2380'), '10.0.0.1');
  assert.equal(hostOf('http://[FD00::1]:2380'), 'fd00::1');
  assert.equal(hostOf('http://Node.Example:2380'), 'node.example');
});

test('member IDs: both spellings, above 2^53, unchanged; everything else refused', () => {
  const id = 14177956833228962174n;
  assert.equal(parseDecimalMemberId('14177956833228962174'), id);
  assert.equal(parseDecimalMemberId(id), id);
  assert.equal(parseHexMemberId('c4c1d5a2f6b3e07e'), 0xc4c1d5a2f6b3e07en);
  assert.equal(parseHexMemberId('C4C1D5A2F6B3E07E'), 0xc4c1d5a2f6b3e07en);
  assert.equal(parseHexMemberId('1'), 1n);
  assert.equal(parseDecimalMemberId('1'), 1n);
  assert.equal(parseHexMemberId('ffffffffffffffff'), (1n << 64n) - 1n);
  assert.equal(parseDecimalMemberId('18446744073709551615'), (1n << 64n) - 1n);
  assert.equal(memberIdToHex(id), 'c4c2389f2d6f397e');
  assert.equal(parseHexMemberId('c4c2389f2d6f397e'), id);
  assert.equal(memberIdToDecimal(id), '14177956833228962174');
  assert.equal(memberIdToHex(0xabn), 'ab');
  for (const bad of [
    '0',
    '18446744073709551616',
    '-1',
    '1.5',
    '',
    ' 1',
    '1 ',
    '123456789012345678901',
    1,
    null,
    undefined,
    0n,
    -1n,
    1n << 64n,
  ]) {
    assert.throws(
      () => parseDecimalMemberId(bad),
      (err: unknown) =>
        err instanceof InvalidMemberIdError &&
        err.name === 'InvalidMemberIdError' &&
        err.raw === bad &&
        err.message.includes('expected an unsigned 64-bit integer'),
      String(bad),
    );
  }
  for (const bad of ['0', '10000000000000000', 'g', '', ' a', 'a ', '0x1', 1, null]) {
    assert.throws(() => parseHexMemberId(bad), InvalidMemberIdError, String(bad));
  }
  assert.match(new InvalidMemberIdError('x').message, /^invalid etcd member ID "x": /);
});

test('quorum: a majority of voters', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumOf), [1, 2, 2, 3, 3, 4, 4]);
  assert.equal(quorumOf(0), 1);
});
