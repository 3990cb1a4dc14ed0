// Time from a launch event to the new member being a healthy voter, on the simulated group with real etcd
// (test/sim/world.ts): the handler adds a learner and stores the drop-in, the instance boots from it and starts
// etcd, and the reconcile pass promotes the learner once it has caught up (run as soon as the learner answers).
import { setTimeout as delay } from 'node:timers/promises';
import { startWorld, type World } from '../test/sim/world.js';

export class VoterBench {
  private constructor(private readonly world: World) {}

  /** A world with three bootstrapped members; size 5 leaves room for the fourth. TLS unless `tls` is false. */
  static async start(options: { tls?: boolean; seed?: number } = {}): Promise<VoterBench> {
    const world = await startWorld({ clusterSize: 5, seed: options.seed ?? 7, tls: options.tls ?? true });
    try {
      await world.scaleTo(3);
      await world.settle({ timeoutMs: 60_000 });
      return new VoterBench(world);
    } catch (err) {
      await world.close();
      throw err;
    }
  }

  /** Scales out by one, times launch event to healthy voter, then scales back in (not timed). */
  async measure(): Promise<number> {
    const world = this.world;
    const before = new Set(world.group.instances().map((i) => i.id));
    await world.scaleTo(before.size + 1);
    const added = world.group.instances().find((i) => !before.has(i.id));
    if (added === undefined) throw new Error('the group launched no instance');
    const started = performance.now();
    const delivery = await world.deliver();
    if (delivery?.error !== undefined) throw new Error(`the launch failed: ${delivery.error.message}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (await this.isHealthyVoter(added.id)) break;
      if (Date.now() > deadline) throw new Error(`${added.id} was no healthy voter after 60 s\n${world.describeTimeline(10)}`);
      const learnerReady = (await world.status(added.id, 500)) !== undefined;
      if (learnerReady) await world.reconcile();
      else await delay(20); // the instance is still booting; look again shortly
    }
    const ms = performance.now() - started;
    await world.terminate(added.id);
    await world.settle({ timeoutMs: 60_000 });
    return ms;
  }

  private async isHealthyVoter(instanceId: string): Promise<boolean> {
    const status = await this.world.status(instanceId, 500);
    if (status === undefined || status.leader === 0n || status.isLearner) return false;
    try {
      const { members } = await this.world.memberList();
      return members.some((m) => m.name === instanceId && !m.isLearner);
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.world.close();
  }
}
