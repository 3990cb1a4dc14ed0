// The join planner: from an Observation and the user's options to a Plan. Pure: no I/O, no clock, no randomness.
//
// Quorum guard (the rule every plan obeys). A step is allowed only if, right after it, the healthy voters
// that exist now still form a quorum of the voters at that step, counting this node as NOT healthy (it may
// never start) and never counting learners:
//
//   step                     voters after the step    must hold
//   remove a dead voter      V - 1                    H >= floor((V-1)/2) + 1
//   remove a dead learner    V                        H >= floor(V/2) + 1
//   add this node, learner   V                        H >= floor(V/2) + 1
//   promote it later         V + 1                    H >= floor((V+1)/2) + 1
//   add this node, voter     V + 1                    H >= floor((V+1)/2) + 1
//
// e.g. V=3 (one dead, H=2): remove the dead one (2 >= 2), add learner (2 >= 2), promote (2 >= q(3)=2): allowed.
//      V=3 (one dead, H=2), strategy add, no removal: promote needs 2 >= q(4)=3: refused.
//      V=1 (H=1): promote needs 1 >= q(2)=2: refused; growing a one-member cluster always risks it.
import { memberIdToHex } from './ids.js';
import { compareMemberIds, compareNames, isGoneOnPlatform, isReusableBy, isUnstarted, memberLabel, votersOf } from './members.js';
import { hasQuorum, quorumCheck, quorumOf } from './quorum.js';
import type {
  Admission,
  BootstrapSource,
  EtcdSettings,
  Health,
  Member,
  NamedPeerURL,
  Observation,
  Plan,
  PlanOptions,
  PlatformKnowledge,
  QuorumCheck,
  RefusalCode,
  Removal,
  RemovalReason,
} from './types.js';
import { sameURLSet, urlsOverlap } from './urls.js';

/** A programming error in the caller: the planner is only called with validated input. */
export class InvalidPlanInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidPlanInputError';
  }
}

/** The etcd default learner limit (3.4 to 3.6 allow one learner at a time). */
export const DEFAULT_MAX_LEARNERS = 1;

/**
 * planJoin decides how this node starts etcd: bootstrap a new cluster, resume from its data dir, join the
 * running cluster (with the removals that make room first), or refuse with a {@link RefusalCode} and a message.
 *
 * Pure and deterministic: the same observation and options always give the same plan, so running it again for
 * the same event does no harm. Every join it returns passes the quorum guard above for each of its steps (the
 * checks are in the plan), and it never removes a member that answers healthily.
 *
 * @throws InvalidPlanInputError only for input the caller should have validated (no name, no peer URLs, a
 *   target size below 1, a negative learner limit, a member listed twice); every cluster state is a plan.
 */
export function planJoin(observation: Observation, options: PlanOptions): Plan {
  validateInput(observation, options);
  const { self, cluster } = observation;
  const base: EtcdSettings = {
    name: self.name,
    dataDir: options.dataDir ?? `${self.name}.etcd`,
    initialAdvertisePeerURLs: [...self.peerURLs],
    initialClusterState: 'existing',
  };

  if (cluster.kind === 'unreachable') {
    if (!observation.dataDirFresh) {
      return {
        kind: 'resume',
        settings: base,
        promote: false,
        reason: 'no member answers, and this node has member data: etcd resumes from its data dir',
      };
    }
    return planBootstrap(observation.bootstrap, self.name, self.peerURLs, base);
  }

  const members = sortById(cluster.members);
  const health = (m: Member): Health => cluster.health.get(m.id) ?? 'unknown';
  return observation.dataDirFresh
    ? planFreshJoin(observation, options, members, health, base)
    : planResume(self.name, self.peerURLs, members, base);
}

function planBootstrap(bootstrap: BootstrapSource, name: string, peerURLs: readonly string[], base: EtcdSettings): Plan {
  switch (bootstrap.kind) {
    case 'discovery':
      // Discovery forms the cluster from its first `size` registrants; once that many registered and nobody
      // answers, the cluster formed and is down now. Bootstrapping again would make a second cluster
      // (the original tool did so as soon as the registry held more entries than the size).
      if (bootstrap.registered >= bootstrap.size) {
        return refuse(
          'cluster-down',
          `the cluster is down: the discovery registry already holds ${bootstrap.registered} of ${bootstrap.size} members and none of them answers; a new node cannot join now`,
        );
      }
      return {
        kind: 'bootstrap',
        settings: { ...base, initialClusterState: 'new', discovery: bootstrap.url },
        reason: `no member answers and the discovery registry holds ${bootstrap.registered} of ${bootstrap.size} members: bootstrap through discovery`,
      };
    case 'static': {
      const own = bootstrap.members.find((m) => m.name === name);
      if (own === undefined) {
        return refuse(
          'bootstrap-in-progress',
          `a new cluster is forming from ${bootstrap.members.length} recorded members and ${name} is not one of them; retry once the cluster answers`,
        );
      }
      if (!sameURLSet(own.peerURLs, peerURLs)) {
        return refuse(
          'peer-url-in-use',
          `the recorded bootstrap lists ${name} with peer URLs ${own.peerURLs.join(',')}, but this node advertises ${peerURLs.join(',')}`,
        );
      }
      return {
        kind: 'bootstrap',
        settings: {
          ...base,
          initialClusterState: 'new',
          initialCluster: sortedNamedPeers(bootstrap.members, name),
          initialClusterToken: bootstrap.token,
        },
        reason: `no member answers and ${name} is one of the ${bootstrap.members.length} recorded first members: bootstrap the new cluster`,
      };
    }
    case 'none':
      return refuse(
        'no-bootstrap-source',
        'no member answers and there is no discovery URL or recorded bootstrap to form a new cluster from',
      );
  }
}

/** A node with member data never changes membership, except to update its own peer URLs when its address changed. */
function planResume(name: string, peerURLs: readonly string[], members: readonly Member[], base: EtcdSettings): Plan {
  const byName = members.find((m) => m.name === name);
  const byURL = members.filter((m) => urlsOverlap(m.peerURLs, peerURLs));
  const own = byName ?? byURL.find(isUnstarted);
  if (own === undefined) {
    if (byURL.length > 0) {
      return refuse(
        'peer-url-in-use',
        `member ${memberLabel(byURL[0]!)} already uses this node's peer URLs under another name; refusing to start ${name} there`,
      );
    }
    return refuse(
      'stale-data-dir',
      `this node has member data, but the cluster has no member named ${name} or with peer URLs ${peerURLs.join(',')}: it was removed. Wipe the data dir to join again as a new member`,
    );
  }
  const others = byURL.filter((m) => m.id !== own.id);
  if (others.length > 0) {
    return refuse('peer-url-in-use', `member ${memberLabel(others[0]!)} already uses one of this node's peer URLs`);
  }
  if (!sameURLSet(own.peerURLs, peerURLs)) {
    return {
      kind: 'resume',
      settings: base,
      updatePeerURLs: { member: own, peerURLs: [...peerURLs] },
      promote: own.isLearner,
      reason: `this node is member ${memberLabel(own)} and its address changed: update its peer URLs, then resume from the data dir`,
    };
  }
  return {
    kind: 'resume',
    settings: base,
    promote: own.isLearner,
    reason: `this node is member ${memberLabel(own)}: resume from the data dir`,
  };
}

interface Classified {
  readonly member: Member;
  readonly health: Health;
  readonly dead: boolean;
  readonly deadReason: RemovalReason;
}

function planFreshJoin(
  observation: Observation,
  options: PlanOptions,
  members: readonly Member[],
  healthOf: (m: Member) => Health,
  base: EtcdSettings,
): Plan {
  const { self } = observation;
  const classified = members.map((m) => classify(m, healthOf(m), observation.platform));
  const voters = votersOf(members);
  const healthyVoters = classified.filter((c) => !c.member.isLearner && c.health === 'healthy').length;
  if (!hasQuorum(voters.length, healthyVoters)) {
    return refuse(
      'no-quorum',
      `only ${healthyVoters} of ${voters.length} voting members are healthy, fewer than the quorum of ${quorumOf(voters.length)}: the cluster cannot accept a new member now`,
    );
  }

  // This node's own traces: an unstarted member with exactly its peer URLs can be reused (crashed earlier run
  // or pre-added by an admin); any other member with its name or peer URLs is a previous incarnation.
  const reusable = classified.find((c) => isReusableBy(c.member, self.peerURLs));
  const incarnations = classified.filter(
    (c) => c !== reusable && (c.member.name === self.name || urlsOverlap(c.member.peerURLs, self.peerURLs)),
  );
  const liveIncarnation = incarnations.find((c) => c.health === 'healthy');
  if (liveIncarnation !== undefined) {
    return refuse(
      'peer-url-in-use',
      `healthy member ${memberLabel(liveIncarnation.member)} already uses this node's name or peer URLs; is etcd running with another data dir?`,
    );
  }
  const removeIncarnation = (c: Classified): Removal => ({ member: c.member, reason: 'previous-incarnation' });

  if (options.strategy === 'prepare' || options.strategy === 'add') {
    if (incarnations.length > 0) {
      return refuse(
        'peer-url-in-use',
        `member ${memberLabel(incarnations[0]!.member)} is an earlier incarnation of this node and must be removed first; strategy ${options.strategy} never removes members (use replace or prune, or remove it with etcdctl member remove)`,
      );
    }
  }
  if (options.strategy === 'prepare' && reusable === undefined) {
    return refuse(
      'not-prepared',
      `strategy prepare: no unstarted member with peer URLs ${self.peerURLs.join(',')} exists; add it first (etcdctl member add ${self.name} --peer-urls=${self.peerURLs.join(',')})`,
    );
  }

  const others = classified.filter((c) => c !== reusable && !incarnations.includes(c));
  // Another node was added but has not started (and is not known dead): its initial cluster lists the members
  // as they were when it was added. Adding this node now would make that list wrong and its start fail: one join at a time.
  const startingJoiner = others.find((c) => isUnstarted(c.member) && !c.dead);
  if (startingJoiner !== undefined) {
    return refuse(
      'join-in-progress',
      `member ${memberLabel(startingJoiner.member)} was added and has not started yet; retry once it has started or is known dead`,
    );
  }
  const deadOthers = orderForRemoval(others.filter((c) => c.dead));
  const size = observation.targetSize;
  const seatsAfter = (removed: number): number => members.length - removed + (reusable === undefined ? 1 : 0);
  const fits = (removed: number): boolean => size === 'unlimited' || seatsAfter(removed) <= size;

  let removals: Removal[] = incarnations.map(removeIncarnation);
  switch (options.strategy) {
    case 'prepare':
    case 'add':
      break;
    case 'replace':
      // Exactly one dead member, and only when the cluster is full; this node's own earlier incarnation is that one.
      if (!fits(removals.length) && removals.length === 0) {
        const victim = deadOthers[0];
        if (victim === undefined) {
          return refuse(
            'cluster-full',
            `the cluster is full (${members.length} of ${String(size)} members) and no member is dead; nothing to replace`,
          );
        }
        removals = [{ member: victim.member, reason: victim.deadReason }];
      }
      break;
    case 'prune':
      removals = [...removals, ...deadOthers.map((c) => ({ member: c.member, reason: c.deadReason }))];
      break;
  }
  if (reusable === undefined && !fits(removals.length)) {
    return refuse(
      'cluster-full',
      `the cluster would have ${seatsAfter(removals.length)} members, more than the target size ${String(size)}` +
        (options.strategy === 'replace' ? ' (replace removes at most one dead member)' : ''),
    );
  }

  // etcd admits a limited number of learners at once; a learner that is not being removed holds a slot.
  const removedIds = new Set(removals.map((r) => r.member.id));
  const joinsAsLearner = reusable === undefined ? options.joinAs === 'learner' : reusable.member.isLearner;
  // (A reused member already holds its slot.) validateInput rules out a learner join with no slot at all, so a
  // refusal here always names the learner that holds one.
  if (reusable === undefined && joinsAsLearner) {
    const remainingLearners = members.filter((m) => m.isLearner && !removedIds.has(m.id));
    const maxLearners = options.maxLearners ?? DEFAULT_MAX_LEARNERS;
    if (remainingLearners.length >= maxLearners) {
      return refuse(
        'learner-pending',
        `learner ${memberLabel(remainingLearners[0]!)} is still joining and etcd allows ${maxLearners} learner(s) at a time; retry once it is promoted or removed`,
      );
    }
  }

  const checks = guardSteps(classified, removals, reusable, joinsAsLearner, self.name);
  const failed = checks.find((c) => !c.ok);
  if (failed !== undefined) {
    return {
      kind: 'refuse',
      code: 'quorum-at-risk',
      message: `step "${failed.step}" would leave ${failed.healthyVoters} healthy of ${failed.voters} voting members, below the quorum of ${failed.quorum}, if this node never came up`,
      checks,
    };
  }

  const admission: Admission =
    reusable === undefined
      ? { kind: 'add', peerURLs: [...self.peerURLs], asLearner: joinsAsLearner }
      : { kind: 'reuse', member: reusable.member };
  const remaining = members.filter((m) => !removedIds.has(m.id) && m.id !== reusable?.member.id);
  return {
    kind: 'join',
    removals,
    admission,
    promote: joinsAsLearner,
    checks,
    settings: { ...base, initialClusterState: 'existing', initialCluster: initialClusterOf(self.name, self.peerURLs, remaining) },
    reason: joinReason(options.strategy, removals, admission),
  };
}

function classify(member: Member, health: Health, platform: PlatformKnowledge | undefined): Classified {
  const gone = isGoneOnPlatform(member, platform);
  // A member that answers healthily is never dead, whatever else is believed about it.
  if (health === 'healthy') return { member, health, dead: false, deadReason: 'unreachable' };
  if (gone) return { member, health, dead: true, deadReason: 'platform-gone' };
  // Stryker disable next-line ArrayDeclaration: the default is read only without platform knowledge; a validated peer URL never equals the placeholder text
  if (urlsOverlap(member.peerURLs, platform?.bootingPeerURLs ?? [])) {
    return { member, health: 'unknown', dead: false, deadReason: 'unreachable' };
  }
  return { member, health, dead: health === 'unreachable', deadReason: 'unreachable' };
}

/** Dead learners first (they cost no quorum), then unstarted, then started voters; by ID within each group. */
function orderForRemoval(dead: readonly Classified[]): Classified[] {
  const rank = (c: Classified): number => (c.member.isLearner ? 0 : isUnstarted(c.member) ? 1 : 2);
  return [...dead].sort((a, b) => rank(a) - rank(b) || compareMemberIds(a.member.id, b.member.id));
}

function guardSteps(
  classified: readonly Classified[],
  removals: readonly Removal[],
  reusable: Classified | undefined,
  joinsAsLearner: boolean,
  name: string,
): QuorumCheck[] {
  const healthy = classified.filter((c) => !c.member.isLearner && c.health === 'healthy').length;
  let voters = classified.filter((c) => !c.member.isLearner).length;
  const checks: QuorumCheck[] = [];
  const check = (step: string, votersAfter: number): void => {
    checks.push(quorumCheck(step, votersAfter, healthy));
  };
  for (const r of removals) {
    if (!r.member.isLearner) voters -= 1;
    check(`remove ${memberLabel(r.member)}`, voters);
  }
  if (reusable === undefined) {
    if (joinsAsLearner) {
      check(`add ${name} as learner`, voters);
      check(`promote ${name}`, voters + 1);
    } else {
      check(`add ${name} as voter`, voters + 1);
    }
  } else if (reusable.member.isLearner) {
    check(`start ${name} as unstarted learner ${memberIdToHex(reusable.member.id)}`, voters);
    check(`promote ${name}`, voters + 1);
  } else {
    // The unstarted voter is already counted in `voters` (as not healthy).
    check(`start ${name} as unstarted member ${memberIdToHex(reusable.member.id)}`, voters);
  }
  return checks;
}

/**
 * etcd requires a joining member's initial cluster to equal the membership exactly (same count, same peer
 * URLs). Names only need to be unique: an unstarted member has none, so it gets a placeholder from its ID.
 */
function initialClusterOf(name: string, peerURLs: readonly string[], remaining: readonly Member[]): NamedPeerURL[] {
  const own = peerURLs.map((peerURL) => ({ name, peerURL }));
  const rest = remaining.flatMap((m) =>
    m.peerURLs.map((peerURL) => ({ name: isUnstarted(m) ? `unstarted-${memberIdToHex(m.id)}` : m.name, peerURL })),
  );
  return [...own, ...rest];
}

/** The static bootstrap's initial cluster: this node first, then the others by name (identical on every node
 * apart from which entry leads, and etcd compares it as a set). */
function sortedNamedPeers(
  members: readonly { readonly name: string; readonly peerURLs: readonly string[] }[],
  selfName: string,
): NamedPeerURL[] {
  const sorted = [...members].sort((a, b) => (a.name === selfName ? -1 : b.name === selfName ? 1 : compareNames(a.name, b.name)));
  return sorted.flatMap((m) => m.peerURLs.map((peerURL) => ({ name: m.name, peerURL })));
}

function joinReason(strategy: string, removals: readonly Removal[], admission: Admission): string {
  const removed = removals.map((r) => `${memberLabel(r.member)} (${r.reason})`).join(', ');
  const admit =
    admission.kind === 'add'
      ? `add this node as a ${admission.asLearner ? 'learner' : 'voter'}`
      : `reuse unstarted member ${memberIdToHex(admission.member.id)}`;
  return `strategy ${strategy}: ${removals.length > 0 ? `remove ${removed}, then ` : ''}${admit}`;
}

function validateInput(observation: Observation, options: PlanOptions): void {
  const { self, targetSize } = observation;
  if (self.name === '') throw new InvalidPlanInputError('this node needs a name');
  if (self.peerURLs.length === 0) throw new InvalidPlanInputError('this node needs at least one peer URL');
  if (targetSize !== 'unlimited' && (!Number.isInteger(targetSize) || targetSize < 1)) {
    throw new InvalidPlanInputError(`invalid target size ${String(targetSize)}`);
  }
  if (options.maxLearners !== undefined && (!Number.isInteger(options.maxLearners) || options.maxLearners < 0)) {
    throw new InvalidPlanInputError(`invalid learner limit ${String(options.maxLearners)}`);
  }
  // A limit of 0 admits no learner: a node that joins as one could never join, whatever the cluster does.
  if (options.maxLearners === 0 && options.joinAs === 'learner') {
    throw new InvalidPlanInputError(
      'a learner limit of 0 admits no learner, but this node joins as a learner; join as a voter or allow a learner',
    );
  }
  const ids = new Set<bigint>();
  if (observation.cluster.kind === 'reachable') {
    for (const m of observation.cluster.members) {
      if (ids.has(m.id)) throw new InvalidPlanInputError(`member ${memberIdToHex(m.id)} is listed twice`);
      ids.add(m.id);
    }
  }
}

function refuse(code: RefusalCode, message: string): Plan {
  return { kind: 'refuse', code, message };
}

function sortById(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => compareMemberIds(a.id, b.id));
}
