// The handler's launch with 0, 1 and 2 hung members, on the simulated group with real etcd (test/sim/world.ts):
// five InService instances run the cluster, a sixth instance's launch event goes through the real handler with
// the production timeouts (3 s per request, 2 s health checks), and its instance boots etcd from the drop-in.
// Hung = SIGSTOP: the member accepts connections and never answers, as an unreachable EC2 host does.
import { handleEvent } from '../src/lambda/handle.js';
import type { LifecycleDeps } from '../src/lambda/deps.js';
import { sleep } from '../src/lambda/timing.js';
import { runJoin } from '../src/services/join.js';
import { silentLogger } from '../src/services/log.js';
import { peerURLOf, pollUntil, type EtcdMember } from '../test/harness/index.js';
import { startWorld, type World } from '../test/sim/world.js';

const MEMBERS = 5;
/** The Lambda's defaults (lambda/handler.ts, ELASTIC_ETCD_HEALTH_TIMEOUT_MS). */
export const PRODUCTION_CONNECTION = { requestTimeoutMs: 3000, healthTimeoutMs: 2000 } as const;
/** Bounds a launch whose learner cannot be promoted (e.g. etcd refuses while a member hangs). */
const LAUNCH_WAIT_MS = 20_000;

/** Where the hung members sit in the order the handler's etcd client tries endpoints (instance ID order). */
export type HungPlacement = 'first' | 'last';

export interface LaunchSample {
  readonly ms: number;
  /** The handler's result ("launch:continue", ...) or "error: ...". */
  readonly outcome: string;
  /** The decisions the handler logged (join, promote, refuse, ...). */
  readonly decision: string;
}

export class LaunchBench {
  private constructor(private readonly world: World) {}

  /** The simulated group underneath, for figures measured in it (tls-parts.ts). */
  get simulated(): World {
    return this.world;
  }

  /** Five members, TLS unless `tls` is false. */
  static async start(options: { tls?: boolean; seed?: number } = {}): Promise<LaunchBench> {
    // No size limit: every launch is a plain learner join, never a replacement, so every run starts alike.
    const world = await startWorld({ clusterSize: 'unlimited', seed: options.seed ?? 42, tls: options.tls ?? true });
    try {
      await world.scaleTo(MEMBERS);
      await world.settle({ timeoutMs: 90_000 });
      return new LaunchBench(world);
    } catch (err) {
      await world.close();
      throw err;
    }
  }

  /** The world's handler dependencies with the production timeouts and waits instead of the test ones. */
  private deps(): LifecycleDeps {
    return {
      ...this.world.deps,
      connection: { ...this.world.deps.connection, ...PRODUCTION_CONNECTION },
      remainingMs: () => 300_000,
      sleep,
      launchWaitMs: LAUNCH_WAIT_MS,
    };
  }

  /** Hangs `hung` followers, delivers one launch event to the handler and times it; then restores the group. */
  async measure(hung: number, placement: HungPlacement): Promise<LaunchSample> {
    const world = this.world;
    const before = new Set(world.group.instances().map((i) => i.id));
    await world.scaleTo(before.size + 1);
    const added = world.group.instances().find((i) => !before.has(i.id));
    const [queued] = world.find('launch');
    if (added === undefined || queued === undefined) throw new Error('the group launched no instance');
    world.drop((q) => q === queued); // delivered here, with the production settings, not by the world
    const chosen = await this.choose(hung, placement);
    const decisionsBefore = world.telemetry?.decisions().length ?? 0;
    for (const m of chosen) m.stop();
    let outcome: string;
    const started = performance.now();
    try {
      const result = await handleEvent(queued.event, this.deps());
      outcome = `${result.kind}:${result.outcome}`;
    } catch (err) {
      outcome = `error: ${(err as Error).message}`;
    }
    const ms = performance.now() - started;
    for (const m of chosen) m.resume();
    const decisions = (world.telemetry?.decisions() ?? []).slice(decisionsBefore).map((d) => String(d.decision));
    await this.restore(added.id);
    return { ms, outcome, decision: decisions.join('+') || '-' };
  }

  /**
   * The decision alone, as the handler's first step makes it: observe the cluster (member list and every
   * member's health, in parallel, each bounded by the health timeout) and plan, changing nothing.
   */
  async measureDecision(hung: number, placement: HungPlacement): Promise<LaunchSample> {
    const chosen = await this.choose(hung, placement);
    // The observer's connection: the production bounds, and in a TLS world a client certificate from the CA.
    const connection = { ...(await this.world.connection()), ...PRODUCTION_CONNECTION };
    for (const m of chosen) m.stop();
    const started = performance.now();
    let result;
    try {
      result = await runJoin({
        self: { name: 'i-0bench0decision00', peerURLs: [peerURLOf('127.0.0.1', this.world.tls ? 'https' : 'http')] },
        dataDir: '/var/lib/etcd',
        dataDirFresh: true,
        strategy: 'replace',
        joinAs: 'learner',
        targetSize: 'unlimited',
        bootstrap: { kind: 'none' },
        endpoints: this.members().map((m) => m.clientURL),
        dryRun: true,
        connection,
        lockTimeoutMs: 30_000,
        holder: 'bench',
        log: silentLogger,
      });
    } finally {
      for (const m of chosen) m.resume();
    }
    const ms = performance.now() - started;
    await this.leaderId();
    return { ms, outcome: result.plan.kind, decision: result.plan.kind === 'refuse' ? result.plan.code : result.plan.kind };
  }

  /** The in-service members' etcd processes, in the handler's endpoint order (by instance ID). */
  private members(): EtcdMember[] {
    return this.world
      .inService()
      .sort()
      .flatMap((id) => this.world.etcdOf(id) ?? []);
  }

  /** `hung` followers (never the leader, so no election muddies the figure), by endpoint order. */
  private async choose(hung: number, placement: HungPlacement): Promise<EtcdMember[]> {
    const leaderId = await this.leaderId();
    const followers = this.members().filter((m) => m.id !== leaderId);
    return (placement === 'first' ? followers : [...followers].reverse()).slice(0, hung);
  }

  private async leaderId(): Promise<bigint> {
    return pollUntil(
      async () => {
        const statuses = await Promise.all(this.members().map((m) => this.world.status(m.clientURL, 1000)));
        const ready = statuses.length > 0 && statuses.every((s) => s !== undefined && s.leader !== 0n);
        return ready ? statuses[0]?.leader : undefined;
      },
      { timeoutMs: 20_000, what: 'every member to know a leader' },
    );
  }

  /** Scales the launched instance away again; the world's handler removes its member and parameters. */
  private async restore(instanceId: string): Promise<void> {
    const world = this.world;
    await this.leaderId();
    const instance = world.group.instance(instanceId);
    if (instance?.lifecycleState === 'InService' || instance?.lifecycleState === 'Pending:Wait') await world.terminate(instanceId);
    await world.scaleTo(MEMBERS); // an abandoned launch left a replacement behind
    await world.settle({ timeoutMs: 90_000 });
  }

  async close(): Promise<void> {
    for (const m of this.members()) m.resume();
    await this.world.close();
  }
}
