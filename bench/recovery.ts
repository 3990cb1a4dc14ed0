// Recovery after quorum loss, timed on the simulated group with real etcd and the simulated S3 (test/sim/world.ts):
//   every instance lost   loseAll() right after a backup: the group replaces them, the Lambda restores the
//                         newest snapshot (the backup path);
//   a majority lost       loseMajority(): the survivor is snapshotted (rescue), reported unhealthy and replaced,
//                         then the rescue snapshot is restored (the rescue path).
// Each is timed from the loss to a healthy cluster matching the group, with every key written before the loss
// read back. The restore wait (RESTORE_AFTER_MS here, 10 min by default in production) is subtracted: the figure
// is what the recovery itself costs, the wait is configuration.
import assert from 'node:assert/strict';
import { startWorld, type World } from '../test/sim/world.js';
import { figure, type Figure } from './stats.js';

const MEMBERS = 3;
const BUCKET = 'bench-etcd-recovery';
/** The automatic restore's wait in this bench (LifecycleDeps.restoreAfterMs), subtracted from every figure. */
export const RESTORE_AFTER_MS = 1_000;
const RECOVERY_TIMEOUT_MS = 240_000;

export type LossKind = 'all' | 'majority';

/** One loss and its recovery; the world is reused, each run starting from the cluster the last one restored. */
async function measure(world: World, kind: LossKind, run: number): Promise<number> {
  const prefix = `/bench/recovery/${kind}/${run}/`;
  for (let i = 0; i < 5; i++) await world.put(`${prefix}before-${i}`, String(i));
  await world.backUpNow();
  // Written after the backup: kept by the rescue path only.
  for (let i = 0; i < 5; i++) await world.put(`${prefix}after-${i}`, String(i));
  const started = performance.now();
  if (kind === 'all') await world.loseAll();
  else await world.loseMajority();
  await world.settle({ timeoutMs: RECOVERY_TIMEOUT_MS });
  const ms = performance.now() - started - RESTORE_AFTER_MS;
  for (let i = 0; i < 5; i++) assert.equal(await world.get(`${prefix}before-${i}`), String(i), `a key written before the backup is back`);
  if (kind === 'majority')
    for (let i = 0; i < 5; i++) assert.equal(await world.get(`${prefix}after-${i}`), String(i), 'the rescue kept a later write');
  // The restored cluster's first backup is taken by the next reconcile pass, as in production.
  await world.reconcile();
  return ms;
}

/** Times `runs` recoveries of each kind, each on its own world. */
export async function benchRecovery(runs: number, figures: Figure[], progress: (message: string) => void): Promise<void> {
  const kinds: [LossKind, string][] = [
    ['all', 'quorum lost (every instance) to healthy cluster, restored from the backup'],
    ['majority', 'quorum lost (2 of 3) to healthy cluster, survivor rescued and restored'],
  ];
  for (const [kind, label] of kinds) {
    progress(`starting a simulated group of ${MEMBERS} with backups to the simulated S3 (${kind} lost)`);
    const world = await startWorld({
      seed: kind === 'all' ? 1414 : 1415,
      backupBucket: BUCKET,
      backupIntervalSeconds: 600,
      restoreAfterMs: RESTORE_AFTER_MS,
    });
    try {
      await world.bootstrap(MEMBERS);
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        samples.push(await measure(world, kind, i));
        progress(`recovery, ${kind} lost ${i + 1}/${runs}: ${(samples[i]! / 1000).toFixed(1)} s (restore wait excluded)`);
      }
      figures.push(
        figure(
          `recovery.${kind}`,
          label,
          'ms',
          samples,
          `seconds, restore wait of ${RESTORE_AFTER_MS} ms excluded: ${samples.map((s) => (s / 1000).toFixed(1)).join(', ')}`,
        ),
      );
    } finally {
      await world.close();
    }
  }
}
