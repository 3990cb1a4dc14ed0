// Giving up the survivors of a lost majority without giving up their data. When the restore rule waits only
// because live instances that held data remain (members still running, without quorum), their data may be newer
// than the last backup: the most advanced one is snapshotted into the backup store first (services/rescue.ts),
// and only once that snapshot is stored and verified are the survivors reported Unhealthy, so the group
// replaces them. The restore rule then finds every data holder gone and restores from the newest verified
// snapshot, which is the rescue snapshot.
import { errorMessage } from '../core/errors.js';
import { rescueSnapshot, type RescueOutcome } from '../services/rescue.js';
import type { LifecycleDeps } from './deps.js';
import { clientURL, type GroupView } from './group.js';
import { loggerFor, type DecisionRecord } from './log.js';

/** 'rescued': every survivor was reported Unhealthy after its data was stored. Otherwise why the rule waits. */
export type RescueResult = 'rescued' | { readonly waiting: string };

/** What a rescue needs of the lifecycle dependencies. */
export type RescueDeps = Pick<LifecycleDeps, 'config' | 'autoScaling' | 'telemetry' | 'connection' | 'backups'>;

/**
 * Rescues the data of `survivors` (instance IDs of the group whose members still run without quorum) and then
 * reports each of them Unhealthy to the Auto Scaling group. No survivor is reported unless a verified snapshot
 * at or above every survivor's revision is in the backup store: one just taken of the most advanced survivor,
 * or an earlier one of a later revision. Waits (reports nothing) when backups are off, a survivor has no
 * address, any survivor does not answer, or the snapshot cannot be taken or stored. Running it twice does no
 * harm: a second snapshot of the same revision, and the same instances reported again. Never throws for
 * those; `trigger` labels the decisions it logs.
 */
export async function rescueSurvivors(
  group: GroupView,
  survivors: readonly string[],
  deps: RescueDeps,
  trigger: DecisionRecord['trigger'] = 'launch',
): Promise<RescueResult> {
  const { config, telemetry } = deps;
  const wait = (reason: string, details: Record<string, unknown> = {}): RescueResult => {
    telemetry.decision({ trigger, decision: 'rescue-wait', reason, details: { survivors: [...survivors], ...details } });
    return { waiting: reason };
  };
  const store = deps.backups;
  if (store === undefined) return wait("backups are off: there is nowhere to rescue the survivors' data to");
  if (survivors.length === 0) return wait('no survivor was named: nothing to rescue');
  const endpoints: string[] = [];
  for (const id of survivors) {
    const ip = group.instances.get(id)?.privateIp;
    if (ip === undefined) return wait('a survivor has no known address: its data cannot be read', { instanceId: id });
    endpoints.push(clientURL(ip, config));
  }

  let outcome: RescueOutcome;
  try {
    outcome = await rescueSnapshot(store, { endpoints, connection: deps.connection, log: loggerFor(telemetry) });
  } catch (err) {
    telemetry.count('BackupFailures');
    return wait('the rescue snapshot could not be taken or stored; the survivors stay until it is', { error: errorMessage(err) });
  }
  if (outcome.kind === 'refused') return wait(`no rescue: ${outcome.detail}`, { refusal: outcome.reason });

  if (outcome.kind === 'stored') telemetry.count('Backups');
  const snapshot = {
    key: outcome.snapshot.key,
    revision: outcome.snapshot.manifest.revision,
    member: outcome.member.name,
    memberId: outcome.member.id,
    raftIndex: outcome.raftIndex.toString(),
    memberRevision: outcome.revision.toString(),
  };
  telemetry.decision({
    trigger,
    decision: 'rescue-snapshot',
    reason:
      outcome.kind === 'stored'
        ? 'the most advanced survivor was snapshotted and the snapshot verified'
        : 'a stored snapshot is of a later revision than every survivor: no new one is needed',
    details: { ...snapshot, survivors: [...survivors], taken: outcome.kind === 'stored' },
  });

  const failed: string[] = [];
  for (const instanceId of survivors) {
    try {
      await deps.autoScaling.setInstanceUnhealthy(instanceId);
    } catch (err) {
      failed.push(instanceId);
      telemetry.warn('reporting a rescued survivor unhealthy failed', { instanceId, error: errorMessage(err) });
      continue;
    }
    telemetry.count('UnhealthyReported');
    telemetry.decision({
      trigger,
      instanceId,
      decision: 'report-unhealthy',
      reason: 'its data is in the rescue snapshot: the group replaces it, and the restore follows',
      details: snapshot,
    });
  }
  if (failed.length > 0) return wait('some rescued survivors could not be reported unhealthy; the next pass reports them', { failed });
  return 'rescued';
}
