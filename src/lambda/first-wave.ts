// The first wave: the instances that form the cluster when there is none. The decision is recorded once,
// create-only, in Parameter Store (the bootstrap record), so every invocation and every member of the wave reads
// the same initial cluster; a record nobody answers for is judged stale or still forming.
import { randomUUID } from 'node:crypto';
import * as z from '../adapters/zod.js';
import { planJoin } from '../core/planner.js';
import type { BootstrapSource, Plan, SelfIdentity } from '../core/types.js';
import type { LambdaConfig } from './config.js';
import type { LifecycleDeps } from './deps.js';
import { liveInstances, peerURL, type GroupView } from './group.js';
import { recordPastForming } from './formed.js';
import { requireNamespace } from './namespace.js';

const bootstrapRecordSchema = z.object({
  version: z.literal(1),
  token: z.string().check(z.minLength(8), z.maxLength(128)),
  members: z
    .array(z.object({ name: z.string().check(z.minLength(1)), peerURLs: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)) }))
    .check(z.minLength(1)),
  createdAt: z.string(),
  /** Set once the Lambda saw the cluster answer (formed.ts): from then on no answer means cluster-down. */
  formedAt: z.optional(z.string()),
  /** The cluster's ID (hex), learnt when it is marked formed: a restore accepts only its own snapshots. */
  clusterId: z.optional(z.string().check(z.regex(/^[0-9a-f]{1,16}$/))),
  /** The IDs of the clusters this one was restored from, newest first: their snapshots are its own too. */
  lineage: z.optional(z.array(z.string().check(z.regex(/^[0-9a-f]{1,16}$/)))),
  /** A restore wave (restore.ts): every member restores this snapshot before etcd starts. */
  restore: z.optional(
    z.object({
      bucket: z.string().check(z.minLength(3), z.maxLength(63)),
      key: z.string().check(z.minLength(1), z.maxLength(1024)),
      sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
      size: z.number().check(z.int(), z.positive()),
      revision: z.string().check(z.regex(/^[0-9]+$/)),
    }),
  ),
});
export type BootstrapRecord = z.infer<typeof bootstrapRecordSchema>;

/**
 * A first-wave record nobody answers for. Stale when none of its instances is live and no live instance was
 * ever configured (no cluster can exist among them): it is deleted, and a new first wave is decided. When a
 * live instance outside the record was configured, a cluster formed and is down now: `cluster-down`, never
 * `bootstrap-in-progress`, which would wait for ever. Otherwise the recorded wave is still forming.
 */
export async function judgeRecord(
  record: BootstrapRecord,
  selfName: string,
  group: GroupView,
  deps: LifecycleDeps,
): Promise<{ kind: 'forming' } | { kind: 'stale' } | Extract<Plan, { kind: 'refuse' }>> {
  const live = new Set(liveInstances(group).map((i) => i.instanceId));
  const recorded = new Set(record.members.map((m) => m.name));
  const configured = (await deps.parameters.listInstanceIds()).filter((id) => live.has(id) && id !== selfName);
  const outside = configured.filter((id) => !recorded.has(id));
  if (outside.length > 0) {
    return {
      kind: 'refuse',
      code: 'cluster-down',
      message: `the cluster formed (instances ${outside.join(', ')} joined it) and no member answers now; a new member cannot join until it is back`,
    };
  }
  if (configured.length === 0 && ![...recorded].some((name) => live.has(name))) {
    if (record.restore !== undefined) return { kind: 'stale' }; // kept: the caller restores again (launch.ts)
    deps.telemetry.warn(
      'the recorded first wave is stale: none of its instances is live and no live instance was configured; deciding a new one',
      {
        members: [...recorded],
        createdAt: record.createdAt,
      },
    );
    await requireNamespace(deps);
    await deps.parameters.delete(deps.parameters.bootstrapName());
    return { kind: 'stale' };
  }
  if (recordPastForming(record, group, deps.config.joinGraceSeconds)) {
    return {
      kind: 'refuse',
      code: 'cluster-down',
      message: `the first wave formed its cluster (or had its time to) and no member answers now; a new member cannot join until it is back`,
    };
  }
  return { kind: 'forming' };
}

/** The record as the planner's bootstrap source: every first-wave member starts from the same initial cluster. */
export function staticBootstrap(record: BootstrapRecord): BootstrapSource {
  return { kind: 'static', token: record.token, members: record.members };
}

/**
 * The plan of a member of the recorded first wave: it always starts from the record. etcd accepts a late
 * bootstrap member with the same initial cluster and token, whether or not the others formed the cluster already.
 */
export function planStaticBootstrap(self: SelfIdentity, record: BootstrapRecord, config: LambdaConfig): Plan {
  return planJoin(
    { self, dataDirFresh: true, targetSize: config.clusterSize, cluster: { kind: 'unreachable' }, bootstrap: staticBootstrap(record) },
    { strategy: config.joinStrategy, joinAs: config.joinAs, dataDir: config.dataDir },
  );
}

export async function readBootstrapRecord(deps: LifecycleDeps): Promise<BootstrapRecord | undefined> {
  const raw = await deps.parameters.get(deps.parameters.bootstrapName());
  return raw === undefined ? undefined : parseBootstrapRecord(raw, deps.parameters.bootstrapName());
}

export function parseBootstrapRecord(raw: string, where: string): BootstrapRecord {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`the bootstrap record ${where} is not JSON; fix or delete it`);
  }
  const parsed = bootstrapRecordSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`the bootstrap record ${where} is malformed (${parsed.error.issues[0]?.message ?? 'invalid'}); fix or delete it`);
  return parsed.data;
}

/**
 * The first wave: the group's live instances, as many as the cluster size (or the desired capacity when the
 * size is unlimited), by instance ID. Recorded create-only, so concurrent or later invocations all read the
 * same decision. Undefined while fewer instances than that exist.
 */
export async function decideFirstWave(group: GroupView, deps: LifecycleDeps): Promise<BootstrapRecord | undefined> {
  const { config } = deps;
  const wanted = Math.max(
    1,
    Math.min(config.clusterSize === 'unlimited' ? Infinity : config.clusterSize, group.desiredCapacity ?? Infinity),
  );
  const candidates = liveInstances(group).filter((i) => i.privateIp !== undefined);
  if (!Number.isFinite(wanted) || candidates.length < wanted) {
    deps.telemetry.info('first wave incomplete', { wanted, visible: candidates.length });
    return undefined;
  }
  const record: BootstrapRecord = {
    version: 1,
    token: `${config.clusterName}-${randomUUID()}`,
    members: candidates.slice(0, wanted).map((i) => ({ name: i.instanceId, peerURLs: [peerURL(i.privateIp!, config)] })),
    createdAt: new Date().toISOString(),
  };
  await requireNamespace(deps);
  const written = await deps.parameters.createOnly(deps.parameters.bootstrapName(), JSON.stringify(record));
  const decided = written.created ? record : parseBootstrapRecord(written.value, deps.parameters.bootstrapName());
  deps.telemetry.info(written.created ? 'recorded the first wave' : 'read the first wave recorded by another invocation', {
    members: decided.members.map((m) => m.name),
  });
  return decided;
}
