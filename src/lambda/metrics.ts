// The reconcile pass's view of the cluster as CloudWatch metrics (EMF through the telemetry, one value per gauge
// per pass): healthy voters, quorum margin, drift between the members and the group, learners, the largest
// database against the space quota, the newest backup's age and the elections since the last pass; and the
// pass's heartbeat. The numbers come from the same pure summary `elastic-etcd status` prints (core/status.ts),
// observed after the pass's work (the upkeep step's observation when upkeep changed nothing), so they show what
// the pass left behind. Never throws: a metric
// that cannot be had is left out (CloudWatch sees missing data) and the pass goes on.
import { memberIdToHex } from '../core/ids.js';
import { errorMessage } from '../core/errors.js';
import type { GroupInstanceSample, StatusObservation, StatusSummary } from '../core/status.js';
import * as z from '../adapters/zod.js';
import { observeStatus, type StatusOutcome } from '../services/status.js';
import type { LifecycleDeps } from './deps.js';
import { readBootstrapRecord } from './first-wave.js';
import { candidateEndpoints, clientURL, type GroupView } from './group.js';
import { loggerFor, type Gauge } from './log.js';

/** The gauges a status summary gives (the backup age and the elections come from elsewhere). */
export type SummaryGauges = Readonly<
  Record<'Voters' | 'HealthyVoters' | 'QuorumMargin' | 'MembersWithoutInstance' | 'InstancesWithoutMember' | 'Learners', number>
> & {
  /** Undefined when no member reported its database size. */
  readonly DbSizeOfQuota?: number;
};

/**
 * The gauges of one status summary, pure. Instances without a member count only those in service (or standby),
 * as the summary's own problems do: a launching instance has no member yet by design.
 */
export function summaryGauges(summary: StatusSummary, quotaBytes: number): SummaryGauges {
  const sizes = summary.members.flatMap((m) => (m.dbSize === undefined ? [] : [Number(m.dbSize)]));
  return {
    Voters: summary.quorum.voters,
    HealthyVoters: summary.quorum.healthyVoters,
    QuorumMargin: summary.quorum.margin,
    MembersWithoutInstance: summary.group?.membersWithoutInstance.length ?? 0,
    InstancesWithoutMember: summary.problems.filter((p) => p.code === 'instance-without-member').length,
    Learners: summary.members.filter((m) => m.role === 'learner').length,
    ...(sizes.length > 0 && { DbSizeOfQuota: Math.max(...sizes) / quotaBytes }),
  };
}

/**
 * The highest raft term among the members that answered for the cluster (each election raises it by one at
 * least). The services' observation carries the adapter's whole status answer, raftTerm included, which the
 * pure summary does not need.
 */
export function highestRaftTerm(observation: StatusObservation): bigint | undefined {
  let highest: bigint | undefined;
  for (const probe of observation.probes.values()) {
    if (probe.kind !== 'answered' || probe.status.clusterId !== observation.clusterId) continue;
    const status: object = probe.status;
    const term = 'raftTerm' in status && typeof status.raftTerm === 'bigint' ? status.raftTerm : undefined;
    if (term !== undefined && (highest === undefined || term > highest)) highest = term;
  }
  return highest;
}

const storedTermSchema = z.object({ clusterId: z.string(), term: z.string().check(z.regex(/^[0-9]{1,20}$/)) });
type StoredTerm = z.infer<typeof storedTermSchema>;

/**
 * Leader changes seen since the last pass: the raft term's increase, kept as `<root>/raft-term` in Parameter
 * Store (written only when the term moved, so in a quiet cluster never). Why the term and not etcd's own
 * `etcd_server_leader_changes_seen_total`: that counter is per member, kept in memory (it restarts at 0 with the
 * process, and members here are replaced routinely) and needs each member's /metrics scraped; the term is one
 * number for the whole cluster, persisted in every member's raft state, and comes with the status answer the pass
 * reads anyway. It counts elections, so a re-elected leader or a failed election counts too: each one is a pause
 * in writes worth seeing. Undefined on the first pass and after the cluster changed (a restore); an unreadable
 * record is replaced.
 */
async function leaderChangesSince(deps: LifecycleDeps, clusterId: string, term: bigint): Promise<number | undefined> {
  const name = deps.parameters.raftTermName();
  const stored = await deps.parameters.get(name);
  let previous: StoredTerm | undefined;
  try {
    const parsed = storedTermSchema.safeParse(JSON.parse(stored ?? 'null'));
    previous = parsed.success ? parsed.data : undefined;
  } catch {
    previous = undefined; // not JSON: replaced below
  }
  const sameCluster = previous?.clusterId === clusterId;
  if (!sameCluster || previous?.term !== term.toString()) {
    await deps.parameters.put(name, JSON.stringify({ clusterId, term: term.toString() } satisfies StoredTerm));
  }
  if (previous === undefined || !sameCluster) return undefined;
  const delta = term - BigInt(previous.term);
  return delta > 0n ? Number(delta) : 0;
}

/** The group as the status summary takes it. */
function groupSamples(group: GroupView): GroupInstanceSample[] {
  return [...group.instances.values()].map((i) => ({
    instanceId: i.instanceId,
    lifecycleState: i.lifecycleState,
    ...(i.privateIp !== undefined && { privateIp: i.privateIp }),
    ...(i.ec2State !== undefined && { ec2State: i.ec2State }),
  }));
}

/**
 * The cluster and the group side by side, as the pass's metrics and its upkeep see them: one observation serves
 * both when upkeep changes nothing. Throws what observeStatus throws.
 */
export async function observePass(group: GroupView, deps: LifecycleDeps): Promise<StatusOutcome> {
  const { config } = deps;
  const samples = groupSamples(group);
  return observeStatus({
    endpoints: candidateEndpoints(group, config),
    connection: deps.connection,
    group: { name: config.autoScalingGroup, read: () => Promise.resolve(samples) },
    clientURLOf: (ip) => clientURL(ip, config),
    log: loggerFor(deps.telemetry),
  });
}

/**
 * Emits the metrics of one reconcile pass: its heartbeat (`ReconcilePasses`) always, and with `observe` the
 * cluster's gauges (see GAUGES in log.ts), from `observed` when the pass has a current observation, else from a new
 * one. A formed cluster no member answers reports HealthyVoters 0 and QuorumMargin -1 (the quorum is lost as far as
 * anyone can tell); one that never formed reports nothing. Never throws: what cannot be measured is left out, with
 * a warning.
 */
export async function emitPassMetrics(
  group: GroupView,
  deps: LifecycleDeps,
  options: { readonly observe: boolean; readonly observed?: StatusOutcome },
): Promise<void> {
  const { config, telemetry } = deps;
  telemetry.count('ReconcilePasses');
  if (!options.observe) return;
  const gauge = (name: Gauge, value: number | undefined): void => {
    if (value !== undefined && Number.isFinite(value)) telemetry.gauge(name, value);
  };
  try {
    const outcome = options.observed ?? (await observePass(group, deps));
    if (outcome.kind === 'unreachable') {
      if ((await readBootstrapRecord(deps))?.formedAt !== undefined) {
        gauge('HealthyVoters', 0);
        gauge('QuorumMargin', -1);
      }
    } else {
      const gauges = summaryGauges(outcome.summary, config.quotaBackendBytes);
      for (const [name, value] of Object.entries(gauges) as [keyof SummaryGauges, number | undefined][]) gauge(name, value);
      const term = highestRaftTerm(outcome.observation);
      if (term !== undefined && outcome.summary.leader !== undefined) {
        gauge('LeaderChanges', await leaderChangesSince(deps, memberIdToHex(outcome.summary.clusterId), term));
      }
      gauge('NewestBackupAge', await newestBackupAgeSeconds(deps, memberIdToHex(outcome.summary.clusterId)));
    }
  } catch (err) {
    telemetry.warn('some metrics of this reconcile pass could not be measured', { reason: errorMessage(err) });
  }
}

/** Age of the newest snapshot of this cluster (one of another cluster, the one it was restored from, is none). */
async function newestBackupAgeSeconds(deps: LifecycleDeps, clusterId: string): Promise<number | undefined> {
  if (deps.backups === undefined) return undefined;
  const latest = await deps.backups.latest();
  if (latest === undefined || latest.manifest.clusterId !== clusterId) return undefined;
  return Math.max(0, Math.round((Date.now() - Date.parse(latest.manifest.takenAt)) / 1000));
}
