// etcd version skew. etcd supports a cluster whose members run at most one minor version apart, and only
// upgrades: a member older than the cluster's version (the lowest any member runs, as /version's etcdcluster
// reports it) cannot join it (it exits: "cluster version is higher than the maximum cluster version"). Pure.
//
// A cluster that just formed reports 3.0.0 (etcd's placeholder) until its leader decides the real version a few
// seconds later; until then the version of the member that answered stands in for it.

export interface EtcdVersionNumber {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** "3.5.30" → {3, 5, 30}; undefined for anything else (etcd reports "not_decided" before the cluster agreed). */
export function parseEtcdVersion(raw: string): EtcdVersionNumber | undefined {
  const match = /^(\d{1,4})\.(\d{1,4})\.(\d{1,6})$/.exec(raw.trim());
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

export type SkewDecision =
  | { readonly kind: 'ok' }
  /** The cluster did not report a version it agreed on: etcd's own check at start is all there is. */
  | { readonly kind: 'unknown'; readonly reason: string }
  | { readonly kind: 'refuse'; readonly reason: string };

/** The oldest etcd this project supports (3.4): a lower cluster version is etcd's placeholder, not a decision. */
const OLDEST_SUPPORTED = { major: 3, minor: 4 } as const;

function decided(version: EtcdVersionNumber | undefined): version is EtcdVersionNumber {
  return (
    version !== undefined &&
    (version.major > OLDEST_SUPPORTED.major || (version.major === OLDEST_SUPPORTED.major && version.minor >= OLDEST_SUPPORTED.minor))
  );
}

/**
 * Whether a member running `member` may join a cluster reporting `cluster` (/version etcdcluster); `server` is
 * the answering member's own version (etcdserver), used while the cluster's is not decided yet.
 */
export function checkVersionSkew(member: EtcdVersionNumber, cluster: string, server?: string): SkewDecision {
  const reported = parseEtcdVersion(cluster);
  const answering = server === undefined ? undefined : parseEtcdVersion(server);
  const running = decided(reported) ? reported : decided(answering) ? answering : undefined;
  if (running === undefined) return { kind: 'unknown', reason: `the cluster reports no version yet (${JSON.stringify(cluster)})` };
  const [m, c] = [`${member.major}.${member.minor}`, `${running.major}.${running.minor}`];
  if (member.major !== running.major || Math.abs(member.minor - running.minor) > 1) {
    return {
      kind: 'refuse',
      reason: `a member on etcd ${m} cannot join a cluster on ${c}: etcd supports members at most one minor version apart; upgrade one minor version at a time`,
    };
  }
  if (member.minor < running.minor) {
    return {
      kind: 'refuse',
      reason: `a member on etcd ${m} cannot join a cluster already on ${c}: etcd does not let an older member join`,
    };
  }
  return { kind: 'ok' };
}
