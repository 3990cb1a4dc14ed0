// The two snapshot wire formats, read however the network cuts them: etcd's gRPC messages (5-byte prefix and a
// SnapshotResponse) and the JSON gateway's newline-delimited messages. A message split at any byte comes out
// whole; an error from etcd half way, a stream cut short and a missing gRPC status fail the stream before its
// end, so nothing downstream completes a partial snapshot. An endpoint that does not speak gRPC is read through
// the gateway.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable, type Transform } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import axios from 'axios';
import { GrpcSnapshotDecoder } from '../../src/adapters/etcd/grpc-snapshot.js';
import { GatewaySnapshotDecoder, openSnapshotStream } from '../../src/adapters/etcd/snapshot.js';

const ENDPOINT = 'http://127.0.0.1:2379';
const BIG_ID = 14177956833228962174n; // above 2^53: must survive as a bigint
const PAYLOAD = Buffer.from(Array.from({ length: 90 }, (_, i) => (i * 37) % 256));
const PARTS = [PAYLOAD.subarray(0, 40), PAYLOAD.subarray(40, 41), PAYLOAD.subarray(41)];

// ---- protobuf and gRPC framing, written out by hand for the test ----
function varint(value: bigint): Buffer {
  const out: number[] = [];
  do {
    const low = Number(value & 0x7fn);
    value >>= 7n;
    out.push(value > 0n ? low | 0x80 : low);
  } while (value > 0n);
  return Buffer.from(out);
}
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const bytesField = (field: number, data: Buffer) => Buffer.concat([tag(field, 2), varint(BigInt(data.length)), data]);
const intField = (field: number, value: bigint) => (value === 0n ? Buffer.alloc(0) : Buffer.concat([tag(field, 0), varint(value)]));

function snapshotResponse(blob: Buffer, remaining: bigint, header?: { clusterId: bigint; revision: bigint }): Buffer {
  return Buffer.concat([
    header === undefined
      ? Buffer.alloc(0)
      : bytesField(1, Buffer.concat([intField(1, header.clusterId), intField(2, 5n), intField(3, header.revision), intField(4, 2n)])),
    intField(2, remaining),
    bytesField(3, blob),
    bytesField(4, Buffer.from('3.6.0')), // a field this reader does not know (3.6's version): skipped
  ]);
}

function grpcFrame(message: Buffer, flag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function grpcStream(): Buffer {
  let remaining = BigInt(PAYLOAD.length);
  return Buffer.concat(
    PARTS.map((part, i) => {
      remaining -= BigInt(part.length);
      return grpcFrame(snapshotResponse(part, remaining, i === 0 ? { clusterId: BIG_ID, revision: 42n } : undefined));
    }),
  );
}

function gatewayStream(): Buffer {
  const first = {
    result: {
      header: { cluster_id: BIG_ID.toString(), member_id: '5', revision: '42', raft_term: '2' },
      remaining_bytes: String(PAYLOAD.length - PARTS[0]!.length),
      blob: PARTS[0]!.toString('base64'),
    },
  };
  const lines = [JSON.stringify(first), ...PARTS.slice(1).map((p) => JSON.stringify({ result: { blob: p.toString('base64') } }))];
  return Buffer.from(`${lines.join('\n')}\n`);
}

/** Feeds `pieces` to a decoder and reads everything it puts out. */
async function decode(decoder: Transform, pieces: readonly Buffer[]): Promise<Buffer> {
  return buffer(Readable.from(pieces).pipe(decoder));
}

function grpcDecoder(trailers: Record<string, string> = { 'grpc-status': '0' }): GrpcSnapshotDecoder {
  const decoder = new GrpcSnapshotDecoder(ENDPOINT);
  decoder.setTrailers(trailers);
  return decoder;
}

test('gRPC: the stream split at every byte gives the same bytes and header', async () => {
  const wire = grpcStream();
  for (let cut = 0; cut <= wire.length; cut++) {
    const decoder = grpcDecoder();
    const out = await decode(decoder, [wire.subarray(0, cut), wire.subarray(cut)]);
    assert.ok(out.equals(PAYLOAD), `cut at ${cut}`);
    assert.deepEqual(await decoder.header, { clusterId: BIG_ID, memberId: 5n, revision: 42n });
  }
  // and one byte at a time
  const out = await decode(
    grpcDecoder(),
    [...wire].map((b) => Buffer.from([b])),
  );
  assert.ok(out.equals(PAYLOAD));
});

test('gRPC: an error status, a stream cut short or without its status, a compressed message: the stream fails', async () => {
  const wire = grpcStream();
  await assert.rejects(
    decode(grpcDecoder({ 'grpc-status': '14', 'grpc-message': 'etcdserver:%20leader%20changed' }), [wire]),
    (err: Error & { code?: string }) => err.code === 'unavailable' && /failed the snapshot: etcdserver: leader changed/.test(err.message),
  );
  await assert.rejects(decode(grpcDecoder({ 'grpc-status': '7', 'grpc-message': 'etcdserver: permission denied' }), [wire]), {
    code: 'auth-required',
  });
  await assert.rejects(decode(new GrpcSnapshotDecoder(ENDPOINT), [wire]), /without its gRPC status/);
  // Cut inside a message, and cut cleanly after a message that says more is to come.
  await assert.rejects(decode(grpcDecoder(), [wire.subarray(0, wire.length - 3)]), /in the middle of a message/);
  const firstFrameLength = 5 + wire.readUInt32BE(1);
  await assert.rejects(decode(grpcDecoder(), [wire.subarray(0, firstFrameLength)]), /bytes still to come/);
  await assert.rejects(decode(grpcDecoder(), []), /no snapshot data/);
  await assert.rejects(decode(grpcDecoder(), [grpcFrame(snapshotResponse(PAYLOAD, 0n), 1)]), /compressed/);
  await assert.rejects(decode(grpcDecoder(), [grpcFrame(Buffer.from([0x1a, 0x7f, 0x01]))]), /not a SnapshotResponse/);
});

test('gateway: a JSON line split at every byte gives the same bytes and header', async () => {
  const wire = gatewayStream();
  for (let cut = 0; cut <= wire.length; cut++) {
    const decoder = new GatewaySnapshotDecoder(ENDPOINT);
    const out = await decode(decoder, [wire.subarray(0, cut), wire.subarray(cut)]);
    assert.ok(out.equals(PAYLOAD), `cut at ${cut}`);
    assert.deepEqual(await decoder.header, { clusterId: BIG_ID, memberId: 5n, revision: 42n });
  }
});

test('gateway: an error object mid-stream, a truncated stream, a line that is not JSON: the stream fails', async () => {
  const lines = gatewayStream().toString().trimEnd().split('\n');
  const error = JSON.stringify({
    error: { grpc_code: 14, http_code: 503, message: 'etcdserver: request timed out', http_status: 'Service Unavailable' },
  });
  let ended = false;
  const decoder = new GatewaySnapshotDecoder(ENDPOINT);
  decoder.on('end', () => (ended = true));
  await assert.rejects(decode(decoder, [Buffer.from(`${lines[0]!}\n${error}\n`)]), /failed the snapshot: etcdserver: request timed out/);
  assert.equal(ended, false);
  await assert.rejects(decode(new GatewaySnapshotDecoder(ENDPOINT), [Buffer.from(`${lines[0]!}\n`)]), /bytes still to come/);
  await assert.rejects(decode(new GatewaySnapshotDecoder(ENDPOINT), [Buffer.from(lines[0]!.slice(0, 50))]), /not JSON/);
  await assert.rejects(decode(new GatewaySnapshotDecoder(ENDPOINT), []), /no snapshot data/);
});

test('an endpoint that speaks HTTP/1.1 only (no gRPC) is read through the JSON gateway', async () => {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(gatewayStream());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const stream = await openSnapshotStream(axios.create({ proxy: false }), endpoint, undefined, { idleTimeoutMs: 5000 });
    assert.ok((await buffer(stream.bytes)).equals(PAYLOAD));
    assert.equal((await stream.header).revision, 42n);
    assert.deepEqual(paths, ['POST /v3/maintenance/snapshot']);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
