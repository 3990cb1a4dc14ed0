// Healing what Auto Scaling cannot see, timed on the simulated group with real etcd (test/sim/world.ts):
//   hang -> voter   a member is hung (SIGSTOP) on an instance that stays InService; reconcile passes run every
//                   RECONCILE_EVERY_MS (the schedule, scaled down); timed until a replacement is a healthy voter
//                   and the hung instance is gone. Includes the threshold (THRESHOLD_SECONDS), stated with it.
//   launch past     a launch into a full 5-member cluster one of whose members has been hung longer than the
//                   threshold (its record in etcd's health history says so) while its instance still runs,
//                   with the production timeouts: it must succeed (remove the hung member, then add).
import { setTimeout as delay } from 'node:timers/promises';
import { memberIdToHex } from '../src/core/ids.js';
import { handleEvent } from '../src/lambda/handle.js';
import type { LifecycleDeps } from '../src/lambda/deps.js';
import { sleep } from '../src/lambda/timing.js';
import { HEALTH_PREFIX } from '../src/services/health-history.js';
import { startWorld, type World } from '../test/sim/world.js';
import { PRODUCTION_CONNECTION } from './launch.js';
import { figure, type Figure } from './stats.js';

const MEMBERS = 5;
export const THRESHOLD_SECONDS = 10;
export const RECONCILE_EVERY_MS = 1000;

export interface HealSample {
  readonly ms: number;
  readonly outcome: string;
}

export class HealBench {
  private constructor(private readonly world: World) {}

  static async start(): Promise<HealBench> {
    const world = await startWorld({ clusterSize: MEMBERS, seed: 1313, unhealthyAfterSeconds: THRESHOLD_SECONDS });
    try {
      await world.bootstrap();
      return new HealBench(world);
    } catch (err) {
      await world.close();
      throw err;
    }
  }

  /** Hangs one member, then runs the schedule until its replacement is a healthy voter. */
  async hangToVoter(): Promise<HealSample> {
    const world = this.world;
    const hung = world.inService()[1]!;
    world.etcdOf(hung)!.stop();
    const started = performance.now();
    const deadline = Date.now() + 180_000;
    for (;;) {
      await world.reconcile();
      await world.runUntilQuiet({ reconcile: 'never' });
      const check = await world.check();
      if (check.problems.length === 0 && !check.inService.includes(hung)) break;
      if (Date.now() >= deadline) return { ms: performance.now() - started, outcome: `not healed: ${check.problems.join('; ')}` };
      await delay(RECONCILE_EVERY_MS);
    }
    return { ms: performance.now() - started, outcome: 'replaced' };
  }

  /** A launch into the full cluster with one member hung longer than the threshold, instance InService. */
  async launchPastLongHung(): Promise<HealSample> {
    const world = this.world;
    const hung = world.inService()[2]!;
    const { members } = await world.memberList();
    const member = members.find((m) => m.name === hung);
    if (member === undefined) throw new Error(`no member for ${hung}`);
    // What earlier reconcile passes would have recorded: unhealthy since well before the threshold.
    const since = new Date(Date.now() - 2 * THRESHOLD_SECONDS * 1000).toISOString();
    const put = await world.etcdctl(['put', `${HEALTH_PREFIX}${memberIdToHex(member.id)}`, JSON.stringify({ since, name: hung })]);
    if (put.exitCode !== 0) throw new Error(`could not seed the health record: ${put.stderr}`);
    world.etcdOf(hung)!.stop();
    const before = new Set(world.group.instances().map((i) => i.id));
    await world.scaleTo(MEMBERS + 1);
    const added = world.group.instances().find((i) => !before.has(i.id));
    const [queued] = world.find('launch');
    if (added === undefined || queued === undefined) throw new Error('the group launched no instance');
    world.drop((q) => q === queued);
    let outcome: string;
    const started = performance.now();
    try {
      const result = await handleEvent(queued.event, this.productionDeps());
      outcome = `${result.kind}:${result.outcome}`;
    } catch (err) {
      outcome = `error: ${(err as Error).message}`;
    }
    const ms = performance.now() - started;
    // Back to five: the hung instance (now without a member, or still hung after an error) leaves the group.
    await world.terminate(hung);
    await world.settle({ timeoutMs: 120_000 });
    return { ms, outcome };
  }

  private productionDeps(): LifecycleDeps {
    return {
      ...this.world.deps,
      connection: { ...this.world.deps.connection, ...PRODUCTION_CONNECTION },
      remainingMs: () => 300_000,
      sleep,
      launchWaitMs: 120_000,
    };
  }

  async close(): Promise<void> {
    await this.world.close();
  }
}

/** The `heal` section of `npm run bench`: both figures, with the threshold in their labels. */
export async function benchHeal(runs: number, figures: Figure[], progress: (message: string) => void): Promise<void> {
  progress(`starting a simulated group of ${MEMBERS} instances for healing (threshold ${THRESHOLD_SECONDS} s)`);
  const bench = await HealBench.start();
  try {
    const hang: HealSample[] = [];
    const launch: HealSample[] = [];
    for (let i = 0; i < runs; i++) {
      hang.push(await bench.hangToVoter());
      progress(`hang to replacement voter ${i + 1}/${runs}: ${hang[i]?.ms.toFixed(0) ?? ''} ms, ${hang[i]?.outcome ?? ''}`);
      launch.push(await bench.launchPastLongHung());
      progress(`launch past a long-hung member ${i + 1}/${runs}: ${launch[i]?.ms.toFixed(0) ?? ''} ms, ${launch[i]?.outcome ?? ''}`);
    }
    const note = (samples: readonly HealSample[]) =>
      [...new Set(samples.map((s) => s.outcome))].map((o) => `${samples.filter((s) => s.outcome === o).length}x ${o}`).join(', ');
    figures.push(
      figure(
        'heal.hangToVoter',
        `member hung -> healthy replacement voter (threshold ${THRESHOLD_SECONDS} s, reconcile every ${RECONCILE_EVERY_MS / 1000} s)`,
        'ms',
        hang.map((s) => s.ms),
        note(hang),
      ),
    );
    figures.push(
      figure(
        'heal.launchPastHung',
        `launch into ${MEMBERS} members, 1 hung past the threshold, instance InService`,
        'ms',
        launch.map((s) => s.ms),
        note(launch),
      ),
    );
  } finally {
    await bench.close();
  }
}
