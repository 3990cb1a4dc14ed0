// The snapshot digest: etcd's trailer (SHA-256 of the database) is checked however the bytes are chunked, and a
// damaged or truncated snapshot makes the stream fail before it ends, so no consumer completes a bad copy.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { SnapshotDigest } from '../../src/adapters/etcd/index.js';

function snapshotBytes(size: number): Buffer {
  const db = Buffer.alloc(size, 7);
  for (let i = 0; i < size; i += 97) db[i] = i % 251;
  return Buffer.concat([db, createHash('sha256').update(db).digest()]);
}

function chunked(data: Buffer, size: number): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) parts.push(data.subarray(i, i + size));
  return Readable.from(parts);
}

test('a good snapshot passes whatever the chunk size, with its SHA-256 and size', async () => {
  const data = snapshotBytes(100_000);
  for (const size of [1, 31, 32, 33, 4096, 200_000]) {
    const digest = new SnapshotDigest(true);
    const out = await buffer(chunked(data, size).pipe(digest));
    assert.ok(out.equals(data), `chunks of ${size}: bytes unchanged`);
    assert.deepEqual(digest.result(), { sha256: createHash('sha256').update(data).digest('hex'), size: data.length, integrity: true });
  }
});

test('one flipped byte, a truncated stream or a stream too short for a trailer fails before its end', async () => {
  const data = snapshotBytes(10_000);
  const flipped = Buffer.from(data);
  flipped[5000] = flipped[5000]! ^ 0xff;
  for (const bad of [flipped, data.subarray(0, data.length - 1), data.subarray(0, 20), Buffer.alloc(0)]) {
    const digest = new SnapshotDigest(true);
    let ended = false;
    digest.on('end', () => (ended = true));
    await assert.rejects(buffer(chunked(bad, 1000).pipe(digest)), /checksum does not match/);
    assert.equal(ended, false);
  }
});

test('without requireIntegrity the digest only reports', async () => {
  const digest = new SnapshotDigest();
  await buffer(Readable.from([Buffer.from('not a snapshot at all, but long enough for a trailer')]).pipe(digest));
  assert.equal(digest.result()?.integrity, false);
});
