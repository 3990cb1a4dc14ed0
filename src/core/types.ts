// The vocabulary of the pure core: what was observed, what the user asked for, and what the planner decided.
// Nothing in src/core performs I/O; adapters build an Observation, the planner turns it into a Plan.

/** An etcd member ID. uint64 on the wire (a decimal string in the v3 JSON gateway), so never a JS number. */
export type MemberId = bigint;

/** A member as etcd reports it. A member with an empty name has been added but has not started yet. */
export interface Member {
  readonly id: MemberId;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

/**
 * What a health check found out about one member.
 * - healthy: answered for the same cluster and knows a leader.
 * - unreachable: did not answer in time, refused, answered for another cluster, or has no leader.
 * - unknown: not checked, or deliberately given the benefit of the doubt (e.g. a member that is still booting).
 *   An unknown member is neither counted as healthy nor removed.
 */
export type Health = 'healthy' | 'unreachable' | 'unknown';

/** The target cluster size: a positive number of members, or no limit. */
export type ClusterSize = number | 'unlimited';

export type JoinStrategy = 'prepare' | 'add' | 'replace' | 'prune';

/** This node: its etcd name and the peer URLs it will advertise. */
export interface SelfIdentity {
  readonly name: string;
  readonly peerURLs: readonly string[];
}

/** What we know about forming a brand-new cluster when no existing member answers. */
export type BootstrapSource =
  /** An etcd discovery URL (discovery.etcd.io protocol): `registered` entries so far of `size` expected. */
  | { readonly kind: 'discovery'; readonly url: string; readonly size: number; readonly registered: number }
  /** A recorded static bootstrap decision (the Lambda writes one, create-only, for the first wave). */
  | {
      readonly kind: 'static';
      readonly token: string;
      readonly members: readonly { readonly name: string; readonly peerURLs: readonly string[] }[];
    }
  /** Nothing is known: no discovery URL and no recorded decision. */
  | { readonly kind: 'none' };

/** What the live cluster looked like. */
export type ClusterView =
  /** Some endpoint answered the member list. `health` maps every member ID to its health. */
  | { readonly kind: 'reachable'; readonly members: readonly Member[]; readonly health: ReadonlyMap<MemberId, Health> }
  /** No endpoint answered (or none was known). */
  | { readonly kind: 'unreachable' };

/** What the platform knows independently of etcd (e.g. EC2 says the instance behind a member is terminated). */
export interface PlatformKnowledge {
  /** Member names whose machines are gone for good: dead without any health check. */
  readonly goneNames?: readonly string[];
  /** Peer URLs whose machines are gone for good (matches unstarted members, which have no name). */
  readonly gonePeerURLs?: readonly string[];
  /** Peer URLs of machines that exist and are still booting: their members are not dead, only not up yet. */
  readonly bootingPeerURLs?: readonly string[];
}

export interface Observation {
  readonly self: SelfIdentity;
  /** True when the data dir holds no etcd member data (see adapters/datadir). */
  readonly dataDirFresh: boolean;
  readonly targetSize: ClusterSize;
  readonly cluster: ClusterView;
  readonly bootstrap: BootstrapSource;
  readonly platform?: PlatformKnowledge;
}

export interface PlanOptions {
  readonly strategy: JoinStrategy;
  /** Join as a learner and promote once in sync (default), or join directly as a voter. */
  readonly joinAs: 'learner' | 'voter';
  /** The etcd data dir; defaults to `<name>.etcd`, etcd's own default. */
  readonly dataDir?: string;
  /** How many learners etcd allows at once (etcd 3.4 to 3.6: 1). */
  readonly maxLearners?: number;
}

/** One `name=peerURL` entry of etcd's initial cluster. */
export interface NamedPeerURL {
  readonly name: string;
  readonly peerURL: string;
}

/** The etcd configuration a plan starts etcd with. Unset optional fields are left out of every rendering. */
export interface EtcdSettings {
  readonly name: string;
  readonly dataDir: string;
  readonly initialAdvertisePeerURLs: readonly string[];
  readonly initialClusterState: 'new' | 'existing';
  readonly initialCluster?: readonly NamedPeerURL[];
  readonly initialClusterToken?: string;
  readonly discovery?: string;
  /** Where etcd listens and what client URLs it advertises. The CLI leaves these to the caller (as the original
   * did); the Lambda knows the instance's address and sets them so the instance needs nothing else. */
  readonly listenPeerURLs?: readonly string[];
  readonly listenClientURLs?: readonly string[];
  readonly advertiseClientURLs?: readonly string[];
  /**
   * TLS on both listeners with client certificates required: one member certificate serves clients and peers
   * (it carries serverAuth and clientAuth), both trust the cluster's CA. Paths on the member's machine.
   */
  readonly tls?: EtcdTlsSettings;
  /** etcd's space quota in bytes (--quota-backend-bytes); etcd's own default (2 GiB) when unset. */
  readonly quotaBackendBytes?: number;
  /** etcd's auto-compaction (--auto-compaction-mode and --auto-compaction-retention); none when unset. */
  readonly autoCompaction?: { readonly mode: 'periodic' | 'revision'; readonly retention: string };
}

/** Where etcd finds its member certificate, its key and the CA certificate it trusts for clients and peers. */
export interface EtcdTlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly trustedCaFile: string;
}

/** Why a member is about to be removed. */
export type RemovalReason =
  | 'previous-incarnation' // this node's own old member (same name or peer URLs), its data is gone
  | 'unreachable' // failed its health check
  | 'platform-gone'; // the platform says its machine no longer exists

export interface Removal {
  readonly member: Member;
  readonly reason: RemovalReason;
}

/** The membership step that puts this node into the cluster. */
export type Admission =
  | { readonly kind: 'add'; readonly peerURLs: readonly string[]; readonly asLearner: boolean }
  /** An unstarted member with this node's peer URLs already exists (pre-added, or a crashed earlier run). */
  | { readonly kind: 'reuse'; readonly member: Member };

/** One evaluation of the quorum guard, kept in the plan so logs can show why a step was allowed. */
export interface QuorumCheck {
  readonly step: string;
  readonly voters: number;
  readonly healthyVoters: number;
  readonly quorum: number;
  readonly ok: boolean;
}

export type RefusalCode =
  | 'cluster-down' // members unreachable, and the cluster already formed
  | 'no-quorum' // members answer, but fewer healthy voters than a quorum
  | 'quorum-at-risk' // a step would leave fewer healthy voters than its quorum
  | 'cluster-full' // no room, and nothing may or can be removed
  | 'member-suspect' // no room, and a member that would be removed has been unhealthy for less than the threshold
  | 'not-prepared' // strategy prepare, and no pre-added member for this node
  | 'peer-url-in-use' // a member that may be alive already uses this node's peer URLs or name
  | 'learner-pending' // etcd's learner slots are taken by a join in progress
  | 'join-in-progress' // another node was added and has not started yet: its initial cluster must stay true
  | 'stale-data-dir' // this node has member data but is no longer a member
  | 'bootstrap-in-progress' // a first wave is forming without this node
  | 'no-bootstrap-source' // no cluster answers and nothing says how to form one
  | 'restore-waiting' // the cluster is lost; an automatic restore follows once it has been down long enough
  | 'restore-pending' // a restore was requested; an instance that held data is still live
  | 'bad-restore-request' // the operator's restore request cannot be read
  | 'no-backup'; // a restore is due and no snapshot verifies (or the requested one does not)

export type Plan =
  | { readonly kind: 'bootstrap'; readonly settings: EtcdSettings; readonly reason: string }
  | {
      readonly kind: 'resume';
      readonly settings: EtcdSettings;
      /** This node is a member whose peer URLs changed (new IP, same data): update them first. */
      readonly updatePeerURLs?: { readonly member: Member; readonly peerURLs: readonly string[] };
      /** This node is still a learner (an earlier join was not promoted yet). */
      readonly promote: boolean;
      readonly reason: string;
    }
  | {
      readonly kind: 'join';
      readonly removals: readonly Removal[];
      readonly admission: Admission;
      /** True when this node joins as a learner and must be promoted once in sync. */
      readonly promote: boolean;
      readonly checks: readonly QuorumCheck[];
      readonly settings: EtcdSettings;
      readonly reason: string;
    }
  | { readonly kind: 'refuse'; readonly code: RefusalCode; readonly message: string; readonly checks?: readonly QuorumCheck[] };
