// Time from a launch event to the new member being a healthy voter, on the simulated group with real etcd
// (test/sim/world.ts): the handler adds a learner and stores the drop-in, the instance boots from it and starts
// etcd, and the reconcile pass promotes the learner once it has caught up (run as soon as the learner answers).
import { setTimeout as delay } from 'node:timers/promises';
import { clientFor, type EtcdConnection } from '../src/services/connection.js';
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
    // The watch goes through our own client on the shared connections, as the handler's calls do: in both modes
    // it costs one kept-alive request per look, not a handshake or an etcdctl process each time.
    const connection = await world.connection();
    const started = performance.now();
    const delivery = await world.deliver();
    if (delivery?.error !== undefined) throw new Error(`the launch failed: ${delivery.error.message}`);
    const deadline = Date.now() + 60_000;
    for (;;) {
      const status = await this.statusOf(added.id, connection);
      if (status !== undefined && !status.isLearner && status.leader !== 0n && (await this.votes(added.id, connection))) break;
      if (Date.now() > deadline) throw new Error(`${added.id} was no healthy voter after 60 s\n${world.describeTimeline(10)}`);
      const learnerReady = status !== undefined;
      if (learnerReady) await world.reconcile();
      else await delay(20); // the instance is still booting; look again shortly
    }
    const ms = performance.now() - started;
    await world.terminate(added.id);
    await world.settle({ timeoutMs: 60_000 });
    return ms;
  }

  /** The member's own status answer, undefined when it does not answer (yet). */
  private async statusOf(instanceId: string, connection: EtcdConnection) {
    const url = this.world.clientURL(instanceId);
    const client = clientFor([url], connection);
    try {
      return await client.statusAt(url, { timeoutMs: 500 });
    } catch {
      return undefined;
    } finally {
      client.close();
    }
  }

  /** Whether the cluster's member list has the instance's member as a voter. */
  private async votes(instanceId: string, connection: EtcdConnection): Promise<boolean> {
    const client = clientFor(this.world.endpoints(), connection);
    try {
      const { members } = await client.memberList();
      return members.some((m) => m.name === instanceId && !m.isLearner);
    } catch {
      return false;
    } finally {
      client.close();
    }
  }

  async close(): Promise<void> {
    await this.world.close();
  }
}
