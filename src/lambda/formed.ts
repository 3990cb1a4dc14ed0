// Whether the recorded first wave formed a cluster. Without this a formed cluster that stops answering looks
// exactly like a first wave still forming (no member answers, the record names live instances), and a launch
// would wait for ever on `bootstrap-in-progress` instead of being refused as `cluster-down`.
import type { LifecycleDeps } from './deps.js';
import { isLaunching, type GroupView } from './group.js';

/** The part of the first-wave record this module reads and writes. */
export interface FormedRecord {
  readonly members: readonly { readonly name: string }[];
  readonly createdAt: string;
  readonly formedAt?: string;
}

/**
 * Whether the recorded wave is past forming: the Lambda saw its cluster answer (`formedAt`), or the record is
 * older than the join grace and none of its live instances is still launching (every recorded boot had its
 * chance; waiting longer cannot help).
 */
export function recordPastForming(record: FormedRecord, group: GroupView, joinGraceSeconds: number, now = Date.now()): boolean {
  if (record.formedAt !== undefined) return true;
  const created = Date.parse(record.createdAt);
  if (!Number.isFinite(created) || now - created < joinGraceSeconds * 1000) return false;
  return !record.members.some((m) => {
    const state = group.instances.get(m.name)?.lifecycleState;
    return state !== undefined && isLaunching(state);
  });
}

/**
 * Notes in the first-wave record that its cluster answered, and its cluster ID (hex) when the caller knows it
 * (from a member list's header): once each; later calls read and return. Called by the reconcile pass and a
 * launch whenever the cluster answered.
 */
export async function markFormed(deps: LifecycleDeps, clusterId?: string): Promise<void> {
  const name = deps.parameters.bootstrapName();
  const raw = await deps.parameters.get(name);
  if (raw === undefined) return;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return; // a malformed record is reported where it is used (launch.ts)
  }
  if (typeof record !== 'object' || record === null) return;
  const learnsId = clusterId !== undefined && record.clusterId === undefined;
  if (record.formedAt !== undefined && !learnsId) return;
  const formedAt = record.formedAt ?? new Date().toISOString();
  await deps.parameters.put(name, JSON.stringify({ ...record, formedAt, ...(learnsId && { clusterId }) }));
  deps.telemetry.info('the first wave formed its cluster', { createdAt: record.createdAt, clusterId: clusterId ?? null });
}
