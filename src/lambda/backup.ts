// Scheduled and pre-change backups: the Lambda snapshots the cluster into S3 (no daemon on the nodes) when the
// newest stored snapshot is older than the interval: on each reconcile pass, and before a launch changes the
// membership. A backup never blocks a lifecycle decision: a failure is logged (and counted), and the next
// pass tries again.
import { backUp } from '../services/backup.js';
import type { LifecycleDeps } from './deps.js';
import { loggerFor } from './log.js';
import { candidateEndpoints, type GroupView } from './group.js';
import { errorMessage } from '../core/errors.js';
import { readBootstrapRecord } from './first-wave.js';

export type BackupOutcome = 'off' | 'fresh' | 'stored' | 'failed';

/**
 * Takes a snapshot when the newest one is older than `config.backup.intervalMs` (or there is none). `trigger`
 * says why, for the log. Never throws.
 */
export async function backUpWhenDue(group: GroupView, deps: LifecycleDeps, trigger: 'reconcile' | 'before-change'): Promise<BackupOutcome> {
  const { config, telemetry } = deps;
  const store = deps.backups;
  if (store === undefined || config.backup === undefined) return 'off';
  try {
    const latest = await store.latest();
    const ageMs = latest === undefined ? undefined : Date.now() - Date.parse(latest.manifest.takenAt);
    // A newest snapshot of another cluster (the one this was restored from) is no backup of this one: due now.
    const clusterId = (await readBootstrapRecord(deps))?.clusterId;
    const ours = clusterId === undefined || latest?.manifest.clusterId === clusterId;
    if (ageMs !== undefined && ageMs < config.backup.intervalMs && ours) {
      telemetry.debug('the newest snapshot is fresh', { key: latest?.key, ageSeconds: Math.round(ageMs / 1000), trigger });
      return 'fresh';
    }
    const stored = await backUp(store, {
      endpoints: [...candidateEndpoints(group, config)],
      connection: deps.connection,
      log: loggerFor(telemetry),
    });
    telemetry.count('Backups');
    telemetry.latency('Backup', stored.ms);
    telemetry.info('backup taken', {
      trigger,
      key: stored.key,
      revision: stored.manifest.revision,
      size: stored.manifest.size,
      previousAgeSeconds: ageMs === undefined ? null : Math.round(ageMs / 1000),
    });
    return 'stored';
  } catch (err) {
    telemetry.count('BackupFailures');
    telemetry.warn('backup failed; the next pass tries again', { trigger, reason: errorMessage(err) });
    return 'failed';
  }
}
