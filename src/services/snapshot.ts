// Taking a verified snapshot of a running cluster: pick a healthy member (a follower when there is one, so the
// leader keeps its disk and network for the cluster), stream its snapshot, and describe what was taken in a
// manifest. The bytes are never held whole; the stream fails before its end when the data does not match etcd's
// own checksum, so whoever stores it (a file, S3) never completes a damaged copy.
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { memberIdToHex } from '../core/ids.js';
import type { Member } from '../core/types.js';
import { SnapshotDigest, type MaintenanceStatus } from '../adapters/etcd/index.js';

/** What a file written from a snapshot stream should buffer, so its writes batch. */
export { SNAPSHOT_BUFFER_BYTES } from '../adapters/etcd/index.js';
import { clientFor, type EtcdConnection } from './connection.js';
import type { Logger } from './log.js';

/** What a stored snapshot is: written next to it, and checked before it is restored. */
export interface SnapshotManifest {
  readonly format: 1;
  /** SHA-256 (hex) of the stored bytes: the database and etcd's 32-byte trailer. */
  readonly sha256: string;
  readonly size: number;
  /**
   * The source member's store revision read just before the snapshot began (decimal): every write at or below it
   * is in the snapshot (etcd 3.4's stream carries no header to read the exact revision from).
   */
  readonly revision: string;
  /** The cluster it was taken from (hex): a restore refuses another cluster's snapshot. */
  readonly clusterId: string;
  readonly memberId: string;
  readonly memberCount: number;
  /** The server version of the member that answered, e.g. 3.5.30. */
  readonly etcdVersion: string;
  readonly takenAt: string;
}

export interface SnapshotOptions {
  readonly endpoints: readonly string[];
  readonly connection: EtcdConnection;
  readonly log: Logger;
  readonly signal?: AbortSignal;
  /** Bound for the stream to start and for each pause in it (default 15 s). */
  readonly idleTimeoutMs?: number;
}

export interface OpenSnapshot {
  /** The snapshot's bytes; errors before its end when the data does not match etcd's checksum. */
  readonly bytes: Readable;
  /** The manifest, once `bytes` ended and was verified; rejects when the stream failed. */
  readonly manifest: Promise<SnapshotManifest>;
  /** The member it comes from. */
  readonly source: { readonly name: string; readonly endpoint: string; readonly leader: boolean };
}

export class SnapshotError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SnapshotError';
  }
}

/** Opens a verified snapshot stream of the cluster reached at `endpoints`. */
export async function openSnapshot(options: SnapshotOptions): Promise<OpenSnapshot> {
  const client = clientFor(options.endpoints, options.connection);
  let handedOver = false;
  try {
    const list = await client.memberList({ ...(options.signal !== undefined && { signal: options.signal }) });
    const chosen = await chooseSource(list.members, list.clusterId, options, (endpoint, timeoutMs) =>
      client.statusAt(endpoint, { timeoutMs, ...(options.signal !== undefined && { signal: options.signal }) }),
    );
    options.log.info('taking a snapshot', { member: chosen.member.name, endpoint: chosen.endpoint, leader: chosen.leader });
    const stream = await client.snapshotAt(chosen.endpoint, {
      ...(options.idleTimeoutMs !== undefined && { idleTimeoutMs: options.idleTimeoutMs }),
      ...(options.signal !== undefined && { signal: options.signal }),
    });
    const header = await stream.header;
    if (header.clusterId !== 0n && header.clusterId !== list.clusterId) {
      stream.bytes.destroy();
      throw new SnapshotError(`the snapshot answer came from cluster ${header.clusterId.toString(16)}, not ${list.clusterId.toString(16)}`);
    }
    const { bytes: digest, manifest } = digested(stream.bytes, (r) => ({
      format: 1,
      sha256: r.sha256,
      size: r.size,
      revision: (header.revision > (chosen.status.revision ?? 0n) ? header.revision : (chosen.status.revision ?? 0n)).toString(),
      clusterId: memberIdToHex(list.clusterId),
      memberId: memberIdToHex(chosen.member.id),
      memberCount: list.members.length,
      etcdVersion: chosen.status.version,
      takenAt: new Date().toISOString(),
    }));
    handedOver = true;
    digest.on('close', () => client.close());
    return { bytes: digest, manifest, source: { name: chosen.member.name, endpoint: chosen.endpoint, leader: chosen.leader } };
  } finally {
    if (!handedOver) client.close();
  }
}

/**
 * A snapshot stream passed through etcd's checksum, and its manifest (`describe`d from the digest) once the
 * stream ended and passed. An error on either side destroys both: the consumer sees it on `bytes`, and the
 * manifest rejects (already handled, so an unread manifest never is an unhandled rejection).
 */
export function digested(
  source: Readable,
  describe: (digest: { readonly sha256: string; readonly size: number }) => SnapshotManifest,
): { readonly bytes: SnapshotDigest; readonly manifest: Promise<SnapshotManifest> } {
  const digest = new SnapshotDigest(true);
  const done = pipeline(source, digest);
  const manifest = new Promise<SnapshotManifest>((resolve, reject) => {
    digest.on('end', () => {
      const r = digest.result();
      if (r === undefined) return reject(new SnapshotError('the snapshot ended without a digest'));
      resolve(describe(r));
    });
    digest.on('error', reject);
    done.catch(reject);
  });
  manifest.catch(() => undefined);
  return { bytes: digest, manifest };
}

interface Source {
  readonly member: Member;
  readonly endpoint: string;
  readonly status: MaintenanceStatus;
  readonly leader: boolean;
}

/** A started voter of this cluster that knows a leader, a follower first; every status read in parallel. */
async function chooseSource(
  members: readonly Member[],
  clusterId: bigint,
  options: SnapshotOptions,
  statusAt: (endpoint: string, timeoutMs: number) => Promise<MaintenanceStatus>,
): Promise<Source> {
  const voters = members.filter((m) => !m.isLearner && m.clientURLs.length > 0);
  const seen = await Promise.all(
    voters.map(async (member) => {
      const endpoint = member.clientURLs[0]!;
      try {
        const status = await statusAt(endpoint, options.connection.healthTimeoutMs);
        return { member, endpoint, status, leader: status.leader === status.memberId };
      } catch {
        return undefined;
      }
    }),
  );
  const healthy = seen.filter(
    (s): s is Source => s !== undefined && s.status.clusterId === clusterId && s.status.leader !== 0n && s.status.errors.length === 0,
  );
  const chosen = healthy.find((s) => !s.leader) ?? healthy[0];
  if (chosen === undefined) throw new SnapshotError(`no healthy voter answers (${voters.length} voter(s) asked): no snapshot can be taken`);
  return chosen;
}
