// The v3 JSON gateway's answers, validated. The gateway leaves out zero values (false, 0, "", empty lists),
// so almost every field is optional and defaults to its zero value. int64/uint64 fields arrive as decimal
// strings and are kept as bigint. Pure: no I/O here.
import * as z from '../zod.js';
import { parseDecimalMemberId } from '../../core/ids.js';
import type { Member, MemberId } from '../../core/types.js';
import { EtcdError } from './errors.js';

const decimal = z.string().check(z.regex(/^[0-9]{1,20}$/, 'expected a decimal integer string'));
/** A uint64 or int64 as the gateway writes it; absent means 0. */
const wireInt = z.pipe(
  z.optional(decimal),
  z.transform((v) => (v === undefined ? 0n : BigInt(v))),
);
/** Base64 bytes (keys and values). */
const base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64'));

const header = z.object({
  cluster_id: wireInt,
  member_id: wireInt,
  revision: wireInt,
  raft_term: wireInt,
});

const wireMember = z.object({
  ID: decimal,
  name: z.optional(z.string()),
  peerURLs: z.optional(z.array(z.string())),
  clientURLs: z.optional(z.array(z.string())),
  isLearner: z.optional(z.boolean()),
});

export const memberListSchema = z.object({ header: z.optional(header), members: z.optional(z.array(wireMember)) });
export const memberAddSchema = z.object({
  header: z.optional(header),
  member: wireMember,
  members: z.optional(z.array(wireMember)),
});
/** remove, promote and update answer the member list after the change (update: 3.4 answers it too). */
export const memberChangeSchema = memberListSchema;

export const statusSchema = z.object({
  header: header,
  version: z.optional(z.string()),
  dbSize: wireInt,
  /** 3.4+: the part of dbSize in use; the rest is free space that only a defragmentation returns. */
  dbSizeInUse: wireInt,
  leader: wireInt,
  raftIndex: wireInt,
  raftTerm: wireInt,
  raftAppliedIndex: wireInt,
  errors: z.optional(z.array(z.string())),
  isLearner: z.optional(z.boolean()),
});

/** Answers that carry nothing but the header: compaction, defragmentation. */
export const headerOnlySchema = z.object({ header: z.optional(header) });

/** Maintenance Alarm with action GET: the cluster's active alarms (none: no `alarms`). */
export const alarmListSchema = z.object({
  header: z.optional(header),
  alarms: z.optional(z.array(z.object({ memberID: wireInt, alarm: z.optional(z.string()) }))),
});

export const versionSchema = z.object({ etcdserver: z.string(), etcdcluster: z.string() });
export const healthSchema = z.object({ health: z.union([z.string(), z.boolean()]), reason: z.optional(z.string()) });
export const authenticateSchema = z.object({ header: z.optional(header), token: z.string().check(z.minLength(1)) });

const keyValue = z.object({
  key: base64,
  value: z.optional(base64),
  create_revision: wireInt,
  mod_revision: wireInt,
  version: wireInt,
  lease: wireInt,
});
export const rangeSchema = z.object({ header: z.optional(header), kvs: z.optional(z.array(keyValue)), count: wireInt });
export const deleteRangeSchema = z.object({ header: z.optional(header), deleted: wireInt });
export const leaseGrantSchema = z.object({ header: z.optional(header), ID: decimal, TTL: wireInt, error: z.optional(z.string()) });
export const leaseRevokeSchema = z.object({ header: z.optional(header) });
/** One answer of the LeaseKeepAlive stream through the gateway; an expired or unknown lease answers no TTL. */
export const leaseKeepAliveSchema = z.object({
  result: z.optional(z.object({ header: z.optional(header), ID: z.optional(decimal), TTL: wireInt })),
  error: z.optional(z.looseObject({ message: z.optional(z.string()) })),
});
export const txnSchema = z.object({
  header: z.optional(header),
  succeeded: z.optional(z.boolean()),
  responses: z.optional(z.array(z.looseObject({ response_range: z.optional(rangeSchema) }))),
});

/** An error body of the gateway: {"error": "...", "message": "...", "code": 14}. */
export const errorBodySchema = z.object({
  error: z.optional(z.string()),
  message: z.optional(z.string()),
  code: z.optional(z.number().check(z.int())),
});

export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  /** 0n when the key has no lease. */
  readonly lease: bigint;
}

export interface MaintenanceStatus {
  readonly clusterId: bigint;
  readonly memberId: MemberId;
  /** 0n when the member knows no leader. */
  readonly leader: bigint;
  readonly raftIndex: bigint;
  readonly raftTerm: bigint;
  readonly raftAppliedIndex: bigint;
  readonly isLearner: boolean;
  readonly version: string;
  readonly dbSize: bigint;
  /** Bytes of dbSize in use (3.4+; absent on hand-made values). */
  readonly dbSizeInUse?: bigint;
  /** The member's store revision when it answered (always set by toStatus; optional for hand-made values). */
  readonly revision?: bigint;
  /** Alarms and similar, e.g. "NOSPACE" (3.4+). */
  readonly errors: readonly string[];
}

/** Validates `body` against `schema`; a mismatch is an 'invalid-response' EtcdError naming the field. */
export function parseWire<S extends z.ZodMiniType>(schema: S, body: unknown, what: string, endpoint?: string): z.output<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined ? '' : ` at ${issue.path.join('.') || '(root)'}: ${issue.message}`;
    throw new EtcdError('invalid-response', `invalid ${what} answer from etcd${where}`, { endpoint, cause: result.error });
  }
  return result.data;
}

export function toMember(wire: z.output<typeof wireMember>): Member {
  let id: MemberId;
  try {
    id = parseDecimalMemberId(wire.ID);
  } catch (err) {
    throw new EtcdError('invalid-response', `etcd answered an invalid member ID ${JSON.stringify(wire.ID)}`, { cause: err });
  }
  return {
    id,
    // An added member that has not started yet has no name and no client URLs.
    name: wire.name ?? '',
    peerURLs: wire.peerURLs ?? [],
    clientURLs: wire.clientURLs ?? [],
    isLearner: wire.isLearner ?? false,
  };
}

export function toMembers(wire: readonly z.output<typeof wireMember>[] | undefined): Member[] {
  return (wire ?? []).map(toMember);
}

export function toStatus(wire: z.output<typeof statusSchema>): MaintenanceStatus {
  return {
    clusterId: wire.header.cluster_id,
    memberId: wire.header.member_id,
    leader: wire.leader,
    raftIndex: wire.raftIndex,
    raftTerm: wire.raftTerm,
    raftAppliedIndex: wire.raftAppliedIndex,
    isLearner: wire.isLearner ?? false,
    version: wire.version ?? '',
    dbSize: wire.dbSize,
    dbSizeInUse: wire.dbSizeInUse,
    revision: wire.header.revision,
    errors: wire.errors ?? [],
  };
}

/** One active alarm: which member raised it and what it is, as etcd names it (NOSPACE, CORRUPT). */
export interface EtcdAlarm {
  readonly memberId: MemberId;
  readonly alarm: string;
}

export function toAlarms(wire: z.output<typeof alarmListSchema>): EtcdAlarm[] {
  // The gateway leaves out the zero enum value (NONE): an alarm without a name is no alarm.
  return (wire.alarms ?? []).flatMap((a) =>
    a.alarm === undefined || a.alarm === 'NONE' ? [] : [{ memberId: a.memberID, alarm: a.alarm }],
  );
}

export function toKeyValue(wire: z.output<typeof keyValue>): KeyValue {
  return {
    key: fromBase64(wire.key),
    value: fromBase64(wire.value ?? ''),
    createRevision: wire.create_revision,
    modRevision: wire.mod_revision,
    version: wire.version,
    lease: wire.lease,
  };
}

export function toBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

export function fromBase64(encoded: string): string {
  return Buffer.from(encoded, 'base64').toString('utf8');
}

/** etcd's range end for "every key with this prefix", base64-encoded: the prefix with its last byte incremented. */
export function prefixRangeEnd(prefix: string): string {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    const byte = bytes[i] ?? 0;
    if (byte < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = byte + 1;
      return end.toString('base64');
    }
  }
  // All 0xff (or empty): etcd's convention "\0" means "to the end of the key space".
  return Buffer.from([0]).toString('base64');
}
