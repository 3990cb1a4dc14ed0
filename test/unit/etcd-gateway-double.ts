// A stand-in for etcd's v3 JSON gateway, and the one deliberate exception to "tests run real etcd". It exists for
// what real etcd cannot do on demand, deterministically, in the middle of one decision:
// - answer one request type with Unavailable while answering the rest (join markers unreadable, the leader's
//   member list refused after the local lists answered);
// - change the cluster between two requests of one decision (every member stops answering once the lock is held;
//   a member removed by someone else between the locked re-check and the removal; the leader answering for
//   another cluster);
// - refuse a removal with "unhealthy cluster" exactly once on every member, or with any other error;
// - refuse a promotion as "not in sync with the leader" exactly when a test says so.
// With real etcd these are races that a test could hit only some of the time. The double also keeps those
// decisions' tests fast enough for mutation testing, which runs each test file once per mutant (about 350 for the
// decision code; a real 3-member cluster costs seconds to start each time).
// It answers only what those decisions ask, in the shapes real etcd 3.4 answers (decimal-string IDs, zero values
// left out, the gateway's error body), and every member listens on its own client URL, so the real EtcdClient,
// health checks and fail-over run unchanged. Every decision it serves is also tested against real etcd, in
// test/integration (join markers, the lock) and test/e2e (the terminate hold, duplicate events, removals).
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BASE_ID } from './fixtures.js';

/**
 * The started voters of a simulated group as the double serves them: one per instance, named after it, on its
 * private IP, with IDs BASE_ID + 1, + 2, ... in the order of `instanceIds` (see `doubleMemberId`).
 */
export function doubleVoters(
  instanceIds: readonly string[],
  privateIpOf: (instanceId: string) => string,
  clientPort: number,
): DoubleMember[] {
  return instanceIds.map((id) => {
    const ip = privateIpOf(id);
    return {
      id: doubleMemberId(instanceIds, id),
      name: id,
      peerURLs: [`http://${ip}:2380`],
      clientURLs: [`http://${ip}:${clientPort}`],
      isLearner: false,
    };
  });
}

/** Member `n` (from 1) of a double on `ips`: started, a voter, named `n<n>`, ID BASE_ID + n, on `ips[n - 1]`. */
export function startedDoubleMember(ips: readonly string[], n: number, clientPort: number, peerPort: number): DoubleMember {
  const ip = ips[n - 1]!;
  return {
    id: BASE_ID + BigInt(n),
    name: `n${n}`,
    peerURLs: [`http://${ip}:${peerPort}`],
    clientURLs: [`http://${ip}:${clientPort}`],
    isLearner: false,
  };
}

/** Member `n` added as a learner and not started yet: no name, no client URLs. */
export function unstartedDoubleMember(ips: readonly string[], n: number, peerPort: number): DoubleMember {
  return { id: BASE_ID + BigInt(n), name: '', peerURLs: [`http://${ips[n - 1]!}:${peerPort}`], clientURLs: [], isLearner: true };
}

/** The member ID `doubleVoters` gives an instance. */
export function doubleMemberId(instanceIds: readonly string[], instanceId: string): bigint {
  return BASE_ID + BigInt(instanceIds.indexOf(instanceId) + 1);
}

export interface DoubleMember {
  readonly id: bigint;
  /** '' for a member that was added but has not started. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  /** Empty for a member that has not started. */
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

interface StoredKey {
  readonly value: string;
  readonly lease: bigint;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
}

/** One operation the double served, in order: e.g. `member/remove 1234`. */
export type DoubleOperation = string;

const CLUSTER_ID = 0x5ca1ab1e5ca1ab1en;

export class EtcdGatewayDouble {
  members: DoubleMember[];
  readonly operations: DoubleOperation[] = [];
  /** Called when a member is removed, before the answer goes out (to record what else happened by then). */
  onRemove: ((id: bigint) => void) | undefined;
  /** Paths answered with etcd's "request timed out" (Unavailable), e.g. to make the join markers unreadable. */
  readonly refusing = new Set<string>();
  /** Counted failures: the next `times` requests on the path (on any member) get this etcd error, then it answers again. */
  readonly failNext = new Map<string, { status: number; message: string; code: number; times: number }>();
  /** Called with each operation as it arrives, before it is served (to change the cluster at a chosen step). */
  onOperation: ((operation: DoubleOperation) => void) | undefined;
  /** The cluster ID every member answers with (a second double with another ID is a second cluster). */
  clusterId = CLUSTER_ID;
  /** Snapshots end with a trailer that does not match their data (etcd's checksum fails at the end of the stream). */
  snapshotDamaged = false;
  private readonly keys = new Map<string, StoredKey>();
  private readonly leases = new Set<bigint>();
  private revision = 1n;
  private nextLease = 7587869215389476000n;
  private readonly servers = new Map<bigint, Server>();
  private closed = false;
  private open = 0;

  constructor(members: readonly DoubleMember[]) {
    this.members = [...members];
  }

  /** Starts answering on the client URL of every started member not listed in `down`. */
  async start(down: readonly bigint[] = []): Promise<void> {
    for (const m of this.members) {
      if (m.clientURLs.length > 0 && !down.includes(m.id)) await this.up(m.id);
    }
  }

  /** The member starts answering on its (first) client URL. */
  async up(id: bigint): Promise<void> {
    const member = this.members.find((m) => m.id === id);
    const url = member?.clientURLs[0];
    if (this.closed || member === undefined || url === undefined || this.servers.has(id)) return;
    const { hostname, port } = new URL(url);
    const server = createServer((req, res) => void this.handle(id, req, res));
    // No idle timeout: an idle keep-alive connection stays open until the client closes it, so `openConnections`
    // shows whether a client was closed.
    server.keepAliveTimeout = 0;
    server.on('connection', (socket) => {
      this.open++;
      socket.once('close', () => this.open--);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(port), hostname.replace(/^\[|\]$/g, ''), () => resolve());
    });
    this.servers.set(id, server);
  }

  /** The member stops answering: connections are refused, as for a killed etcd. */
  async down(id: bigint): Promise<void> {
    const server = this.servers.get(id);
    if (server === undefined) return;
    this.servers.delete(id);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Puts a key as a joiner's marker or a lock holder would (without a lease). */
  put(key: string, value: string): void {
    this.revision++;
    this.keys.set(key, { value, lease: 0n, createRevision: this.revision, modRevision: this.revision });
  }

  /** Stops every member for good (a later `up` does nothing, so a stray timer cannot keep the process alive). */
  async close(): Promise<void> {
    this.closed = true;
    for (const id of [...this.servers.keys()]) await this.down(id);
  }

  /** Client connections open to any member now. */
  get openConnections(): number {
    return this.open;
  }

  address(id: bigint): AddressInfo | undefined {
    return this.servers.get(id)?.address() as AddressInfo | undefined;
  }

  private leader(): bigint {
    // Any voter that answers leads; a cluster whose answering voters are not a majority has no leader.
    const voters = this.members.filter((m) => !m.isLearner);
    const answering = voters.filter((m) => this.servers.has(m.id));
    return answering.length > voters.length / 2 ? answering[0]!.id : 0n;
  }

  private header(self: bigint): Record<string, string> {
    return { cluster_id: this.clusterId.toString(), member_id: self.toString(), revision: this.revision.toString(), raft_term: '2' };
  }

  private wireMember(m: DoubleMember): Record<string, unknown> {
    // The gateway leaves out zero values: no name, no client URLs, isLearner false.
    return {
      ID: m.id.toString(),
      ...(m.name !== '' && { name: m.name }),
      peerURLs: m.peerURLs,
      ...(m.clientURLs.length > 0 && { clientURLs: m.clientURLs }),
      ...(m.isLearner && { isLearner: true }),
    };
  }

  private wireKey(key: string, k: StoredKey): Record<string, string> {
    return {
      key: Buffer.from(key).toString('base64'),
      value: Buffer.from(k.value).toString('base64'),
      create_revision: k.createRevision.toString(),
      mod_revision: k.modRevision.toString(),
      version: '1',
      ...(k.lease !== 0n && { lease: k.lease.toString() }),
    };
  }

  private range(key: string, rangeEnd: string | undefined): Record<string, unknown>[] {
    const matches = [...this.keys.entries()].filter(([k]) => (rangeEnd === undefined ? k === key : k >= key && k < rangeEnd));
    return matches.sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => this.wireKey(k, v));
  }

  private async handle(self: bigint, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = (chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}) as Record<string, unknown>;
    const path = req.url ?? '';
    const answer = (status: number, payload: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    const refuse = (status: number, message: string, code: number): void => answer(status, { error: message, message, code });
    const decode = (b64: unknown): string => Buffer.from(typeof b64 === 'string' ? b64 : '', 'base64').toString('utf8');
    this.operations.push(path.replace(/^\/v3\//, ''));
    this.onOperation?.(path.replace(/^\/v3\//, ''));
    const header = this.header(self);
    if (this.refusing.has(path)) return refuse(503, 'etcdserver: request timed out', 14);
    const failure = this.failNext.get(path);
    if (failure !== undefined) {
      if (failure.times <= 1) this.failNext.delete(path);
      else this.failNext.set(path, { ...failure, times: failure.times - 1 });
      return refuse(failure.status, failure.message, failure.code);
    }
    switch (path) {
      case '/version':
        return answer(200, { etcdserver: '3.4.23', etcdcluster: '3.4.0' });
      case '/v3/cluster/member/list':
        return answer(200, { header, members: this.members.map((m) => this.wireMember(m)) });
      case '/v3/maintenance/status': {
        const leader = this.leader();
        const me = this.members.find((m) => m.id === self);
        return answer(200, {
          header,
          version: '3.4.23',
          dbSize: '20480',
          ...(leader !== 0n && { leader: leader.toString() }),
          raftIndex: this.revision.toString(),
          raftTerm: '2',
          raftAppliedIndex: this.revision.toString(),
          ...(me?.isLearner === true && { isLearner: true }),
        });
      }
      case '/v3/maintenance/snapshot': {
        // A small stand-in database and etcd's trailer (its SHA-256), in two chunk messages as etcd sends them.
        const db = Buffer.from(`snapshot of member ${self} at revision ${this.revision}\n`.padEnd(8192, '.'));
        const trailer = createHash('sha256').update(db).digest();
        if (this.snapshotDamaged) trailer[0] = trailer[0]! ^ 0x01;
        const data = Buffer.concat([db, trailer]);
        const half = data.length >> 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write(
          `${JSON.stringify({ result: { header, remaining_bytes: String(data.length - half), blob: data.subarray(0, half).toString('base64') } })}\n`,
        );
        res.end(`${JSON.stringify({ result: { blob: data.subarray(half).toString('base64') } })}\n`);
        return;
      }
      case '/v3/cluster/member/remove': {
        const id = BigInt(String(body.ID));
        if (!this.members.some((m) => m.id === id)) return refuse(404, 'etcdserver: member not found', 5);
        this.members = this.members.filter((m) => m.id !== id);
        this.operations[this.operations.length - 1] = `cluster/member/remove ${id.toString()}`;
        this.onRemove?.(id);
        // A removed member's etcd stops serving, once this answer is out.
        res.once('finish', () => void this.down(id));
        return answer(200, { header, members: this.members.map((m) => this.wireMember(m)) });
      }
      case '/v3/cluster/member/promote': {
        const id = BigInt(String(body.ID));
        const member = this.members.find((m) => m.id === id);
        if (member === undefined) return refuse(404, 'etcdserver: member not found', 5);
        if (!member.isLearner) return refuse(400, 'etcdserver: can only promote a learner member', 9);
        this.members = this.members.map((m) => (m.id === id ? { ...m, isLearner: false } : m));
        this.operations[this.operations.length - 1] = `cluster/member/promote ${id.toString()}`;
        return answer(200, { header, members: this.members.map((m) => this.wireMember(m)) });
      }
      case '/v3/kv/range': {
        const kvs = this.range(decode(body.key), body.range_end === undefined ? undefined : decode(body.range_end));
        return answer(200, { header, ...(kvs.length > 0 && { kvs }), ...(kvs.length > 0 && { count: String(kvs.length) }) });
      }
      case '/v3/lease/grant': {
        const id = this.nextLease++;
        this.leases.add(id);
        return answer(200, { header, ID: id.toString(), TTL: String(body.TTL) });
      }
      case '/v3/lease/revoke': {
        const id = BigInt(String(body.ID));
        if (!this.leases.delete(id)) return refuse(404, 'etcdserver: requested lease not found', 5);
        for (const [k, v] of this.keys) if (v.lease === id) this.keys.delete(k);
        this.revision++;
        return answer(200, { header });
      }
      case '/v3/kv/txn': {
        // Only the create-if-absent transaction the lock and the join markers use.
        const compare = (body.compare as { key: string }[])[0]!;
        const key = decode(compare.key);
        const existing = this.keys.get(key);
        if (existing !== undefined) {
          return answer(200, { header, responses: [{ response_range: { header, kvs: [this.wireKey(key, existing)], count: '1' } }] });
        }
        const put = (body.success as { requestPut: { value: string; lease?: string } }[])[0]!.requestPut;
        this.revision++;
        this.keys.set(key, {
          value: decode(put.value),
          lease: BigInt(put.lease ?? '0'),
          createRevision: this.revision,
          modRevision: this.revision,
        });
        return answer(200, { header: this.header(self), succeeded: true, responses: [{ response_put: { header } }] });
      }
      default:
        return refuse(404, `the double does not serve ${path}`, 12);
    }
  }
}
