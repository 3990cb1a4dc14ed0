// When a lost cluster is restored from a snapshot instead of refusing every launch: the rule, pure. The Lambda
// (src/lambda/restore.ts) gathers the facts (the record, the request, the group, the down-since mark) and acts on
// the verdict; choosing and verifying the snapshot is its step 5.
//
// A restore starts a NEW cluster (new token) from a snapshot. It is safe only when no instance that held the
// lost cluster's data can come back: such an instance may hold newer writes than any snapshot, and its old
// cluster would then exist beside the restored one.

/** An instance that held the lost cluster's data, and its lifecycle state in the group (undefined: gone). */
export interface DataHolder {
  readonly instanceId: string;
  readonly lifecycleState: string | undefined;
}

export interface RestoreFacts {
  /** An operator's restore request is pending (`<ns>/restore-request`); who asked, when known. */
  readonly request?: { readonly from: string; readonly requestedBy?: string };
  /** Backups are configured and `backup.autoRestore` is on. */
  readonly autoRestore: boolean;
  /** The recorded cluster formed (`formedAt` on the bootstrap record). */
  readonly formed: boolean;
  /** Some member answers. */
  readonly answering: boolean;
  /** How long the cluster has been seen down without a break (from `<ns>/down-since`); undefined: not known. */
  readonly downForMs: number | undefined;
  /** `backup.restoreAfterMs`. */
  readonly restoreAfterMs: number;
  /** Every instance that held the cluster's data, other than the launching one. */
  readonly holders: readonly DataHolder[];
}

export type RestoreVerdict =
  /** No restore is wanted, or the cluster is not lost: decide as without restores. */
  | { readonly kind: 'none'; readonly reason: string }
  | { readonly kind: 'restore'; readonly trigger: 'automatic' | 'request'; readonly reason: string }
  /** Not yet: the launch waits (a waitable refusal), it must not ABANDON. */
  | { readonly kind: 'wait'; readonly code: 'restore-waiting' | 'restore-pending'; readonly reason: string }
  /**
   * Automatic, down long enough, but live instances that held data remain: their data must be saved first (a
   * rescue snapshot of the most advanced survivor, lambda/rescue.ts), then their instances replaced.
   */
  | { readonly kind: 'rescue'; readonly survivors: readonly string[]; readonly reason: string }
  /** No restore now, and waiting cannot help within this launch: refused as the cluster being down. */
  | { readonly kind: 'refuse'; readonly code: 'cluster-down'; readonly reason: string };

/** Whether an instance in this lifecycle state can never come back (gone from the group, or on its way out). */
export function cannotComeBack(lifecycleState: string | undefined): boolean {
  return lifecycleState === undefined || lifecycleState.startsWith('Terminating') || lifecycleState === 'Terminated';
}

/** The holders that may still come back, with newer data than any snapshot. */
export function blockingHolders(holders: readonly DataHolder[]): DataHolder[] {
  // Stryker disable next-line EqualityOperator: `<=` differs only for equal instance IDs, and a group's are unique
  return holders.filter((h) => !cannotComeBack(h.lifecycleState)).sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1));
}

/**
 * The rule (README, "Recovery"): restore when (1) a restore is wanted (a request, or automatic restores on),
 * (2) the recorded cluster formed and no member answers, (3) automatic only: it has been down for at least
 * `restoreAfterMs`, and (4) no instance that held its data can come back. (5), a snapshot that verifies, is
 * the caller's to check.
 */
export function decideRestore(facts: RestoreFacts): RestoreVerdict {
  if (!facts.formed) return { kind: 'none', reason: 'the recorded cluster never formed: a first wave is not restored' };
  if (facts.answering) return { kind: 'none', reason: 'the cluster answers' };
  if (facts.request === undefined && !facts.autoRestore)
    return { kind: 'none', reason: 'no restore request and automatic restores are off' };
  const blocking = blockingHolders(facts.holders);
  if (blocking.length > 0) {
    const named = blocking.map((h) => `${h.instanceId} (${h.lifecycleState ?? '?'})`).join(', ');
    const which = `instance${blocking.length === 1 ? '' : 's'} ${named} that held data ${blocking.length === 1 ? 'is' : 'are'} live and may come back with newer data`;
    if (facts.request !== undefined) {
      return {
        kind: 'wait',
        code: 'restore-pending',
        reason: `a restore was requested, but ${which}: scale the group to 0, wait until they are terminated, then scale back`,
      };
    }
    if (facts.autoRestore && facts.downForMs !== undefined && facts.downForMs >= facts.restoreAfterMs) {
      return {
        kind: 'rescue',
        survivors: blocking.map((h) => h.instanceId),
        reason: `no quorum for ${duration(facts.downForMs)} (at least ${duration(facts.restoreAfterMs)}) and ${which}: their data is saved first`,
      };
    }
    return { kind: 'refuse', code: 'cluster-down', reason: `no member answers and no restore now: ${which}` };
  }
  if (facts.request !== undefined) {
    return { kind: 'restore', trigger: 'request', reason: `restore requested${by(facts.request.requestedBy)} from ${facts.request.from}` };
  }
  if (facts.downForMs === undefined || facts.downForMs < facts.restoreAfterMs) {
    return {
      kind: 'wait',
      code: 'restore-waiting',
      reason: `the cluster is lost; an automatic restore follows once it has been down long enough: down ${duration(facts.downForMs ?? 0)} of ${duration(facts.restoreAfterMs)}`,
    };
  }
  return {
    kind: 'restore',
    trigger: 'automatic',
    reason: `no member answered for ${duration(facts.downForMs)} (at least ${duration(facts.restoreAfterMs)}) and no instance that held data can come back`,
  };
}

/** The cluster IDs whose snapshots a restore accepts: the record's own and those it was restored from. Undefined: any. */
export function acceptedClusterIds(record: { readonly clusterId?: string; readonly lineage?: readonly string[] }): Set<string> | undefined {
  const ids = lineageAfter(record);
  return ids.length === 0 ? undefined : new Set(ids);
}

/** The lineage of a cluster restored from one whose record this is: its own ID first, then its own lineage. */
export function lineageAfter(record: { readonly clusterId?: string; readonly lineage?: readonly string[] }): string[] {
  const ids = [...(record.clusterId === undefined ? [] : [record.clusterId]), ...(record.lineage ?? [])];
  return [...new Set(ids)];
}

/**
 * How many revisions written after the snapshot are lost: the last revision the reconcile pass saw on the lost
 * cluster less the snapshot's. Undefined when that is not known (no observation, or one of another cluster).
 */
export function revisionsLost(
  snapshot: { readonly revision: string; readonly clusterId: string },
  observed: { readonly revision: string; readonly clusterId: string } | undefined,
): bigint | undefined {
  if (observed === undefined || observed.clusterId !== snapshot.clusterId) return undefined;
  const lost = BigInt(observed.revision) - BigInt(snapshot.revision);
  // Stryker disable next-line EqualityOperator: at 0 both branches answer 0
  return lost < 0n ? 0n : lost;
}

function by(requestedBy: string | undefined): string {
  return requestedBy === undefined ? '' : ` by ${requestedBy}`;
}

/** "3 s", "4 min 10 s". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000)); // floored: never says "10 min of 10 min" while short of it
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  return s % 60 === 0 ? `${m} min` : `${m} min ${s % 60} s`;
}
