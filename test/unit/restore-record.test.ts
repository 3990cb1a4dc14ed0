// The first-wave record as a restore reads and writes it: the cluster ID and lineage it learns, the restore a
// restore wave carries, and what an instance of that wave is told to restore.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { instanceRestoreSchema } from '../../src/adapters/aws/restore-parameters.js';
import { parseBootstrapRecord } from '../../src/lambda/first-wave.js';
import { instanceRestoreOf } from '../../src/lambda/restore.js';

const base = {
  version: 1,
  token: 'etcd-0f8b1c2d-1111-2222-3333-444455556666',
  members: [{ name: 'i-0aaaaaaaaaaaaaaa1', peerURLs: ['http://10.0.0.1:2380'] }],
  createdAt: '2026-01-01T00:00:00.000Z',
};
const restore = {
  bucket: 'my-backups',
  key: 'elastic-etcd/snapshots/20260101T000000.000Z-abcd.db',
  sha256: 'a'.repeat(64),
  size: 20480,
  revision: '42',
};

test('a record before this change (no cluster ID, no lineage) still parses', () => {
  const record = parseBootstrapRecord(JSON.stringify({ ...base, formedAt: '2026-01-01T00:01:00.000Z' }), 'bootstrap');
  assert.equal(record.clusterId, undefined);
  assert.equal(record.lineage, undefined);
});

test('cluster ID, lineage and restore round-trip', () => {
  const raw = JSON.stringify({ ...base, clusterId: 'cdf818194e3a8c32', lineage: ['1a2b', 'ffff0000ffff0000'], restore });
  const record = parseBootstrapRecord(raw, 'bootstrap');
  assert.equal(record.clusterId, 'cdf818194e3a8c32');
  assert.deepEqual(record.lineage, ['1a2b', 'ffff0000ffff0000']);
  assert.deepEqual(record.restore, restore);
});

test('a malformed cluster ID, lineage or restore is a clear error naming the record', () => {
  for (const bad of [
    { clusterId: 'XYZ' },
    { clusterId: '1'.repeat(17) },
    { lineage: 'cdf8' },
    { lineage: ['not hex'] },
    { restore: { ...restore, sha256: 'short' } },
    { restore: { ...restore, size: 0 } },
    { restore: { ...restore, revision: '-1' } },
  ]) {
    assert.throws(
      () => parseBootstrapRecord(JSON.stringify({ ...base, ...bad }), '/elastic-etcd/etcd/bootstrap'),
      /the bootstrap record \/elastic-etcd\/etcd\/bootstrap is malformed .*; fix or delete it/,
      JSON.stringify(bad),
    );
  }
});

test("a restore wave's member is told exactly the record's snapshot; anyone else nothing", () => {
  const record = parseBootstrapRecord(JSON.stringify({ ...base, restore }), 'bootstrap');
  const told = instanceRestoreOf(record, 'i-0aaaaaaaaaaaaaaa1');
  assert.deepEqual(told, { format: 1, ...restore });
  assert.equal(instanceRestoreSchema.safeParse(told).success, true, 'what the boot script reads');
  assert.equal(instanceRestoreOf(record, 'i-0bbbbbbbbbbbbbbb2'), undefined, 'not a member of the wave');
  assert.equal(
    instanceRestoreOf(parseBootstrapRecord(JSON.stringify(base), 'bootstrap'), 'i-0aaaaaaaaaaaaaaa1'),
    undefined,
    'a plain first wave',
  );
});
