// One chaos run: a seeded random fault schedule on the simulated group with real etcd (test/sim/world.ts),
// with a writer and a quorum monitor running throughout, then the safety checks:
//   1. no acknowledged write is lost;
//   2. no action of ours left the voters without a quorum (see QuorumMonitor; the chaos never downs a majority,
//      except the deliberate "lose quorum" fault, during which the monitor does not judge);
//   3. membership converges to the group's in-service instances within MAX_RECONCILE_PASSES reconcile passes;
//   4. no orphaned parameters (part of world.check());
//   5. with --lose-quorum: after the recovery every write acknowledged before the newest snapshot (the regular
//      backup, or the rescue snapshot of the survivors) is present; writes lost after it are the recovery point.
// The same seed gives the same schedule, instance IDs, tokens and event IDs: a failure is replayed by its seed.
import { setTimeout as delay } from 'node:timers/promises';
import { SeededRandom } from '../sim/rng.js';
import { startWorld, type World, type WorldLogEntry } from '../sim/world.js';
import type { EtcdVersionName } from '../harness/versions.js';
import { QuorumMonitor, Writer, lostWrites } from './monitors.js';

/** Reconcile passes allowed after the faults stop, before the run counts as not converging. */
export const MAX_RECONCILE_PASSES = 6;
/** How many handler invocations a member stays hung for. */
const HUNG_INVOCATIONS = 6;
/** Bound on delivering one step's events; a run that needs longer fails with its seed instead of hanging. */
const STEP_TIMEOUT_MS = 120_000;
/** The scheduled reconcile pass runs after this many deliveries in a row (compressed time), and when stuck. */
export const RECONCILE_EVERY = 5;
/** The handler's fault points (LifecycleDeps.faultPoint and the join executor's). */
export const FAULT_POINTS = ['store-parameters', 'complete', 'remove-member', 'delete-parameters', 'admit', 'mark'] as const;

export interface ChaosOptions {
  readonly seed: number;
  readonly steps: number;
  /** The group's size between faults (3 or 5); the cluster size is 5, so a 3-group can grow to 5. */
  readonly baseSize?: number;
  /** Every schedule step and every world log line. */
  readonly log?: (line: string) => void;
  readonly verbose?: boolean;
  /** The etcd the group runs (default: ETCD_VERSION's). */
  readonly etcdVersion?: EtcdVersionName;
  /**
   * A mixed group, as during a rolling upgrade: the cluster forms on `etcdVersion` and every instance launched
   * after that runs this version, so the faults bring newer members into the older cluster.
   */
  readonly mixedWith?: EtcdVersionName;
  /**
   * Also the faults Auto Scaling cannot see (issue 13): a member hung for a long time, and etcd crash-looping
   * on a corrupted data dir under the service manager; each must be healed through the group (the threshold
   * is LONG_FAULT_THRESHOLD_SECONDS). Off by default, so the existing seeds keep their schedules.
   */
  readonly longFaults?: boolean;
  /**
   * Also lose the quorum once (issue 14): at one step chosen by the seed, right after a regular backup, a
   * majority (or every instance, chosen by the seed) is killed at once and replaced by the group; the cluster
   * must come back from its backups (a rescue snapshot of the survivors, or the backup). Backups are on in such
   * runs. Off by default, so the existing seeds keep their schedules.
   */
  readonly loseQuorum?: boolean;
}

/** The bucket of runs with the lose-quorum fault. */
const CHAOS_BUCKET = 'chaos-etcd-backups';
/** How long a lost cluster is down before the automatic restore, in runs with the lose-quorum fault. */
export const CHAOS_RESTORE_AFTER_MS = 2_000;
/** How long the recovery from a lost quorum may take (restore wait, rescue, replacements, restore). */
const RECOVERY_TIMEOUT_MS = 180_000;

/** What the lose-quorum fault cost and how long the cluster took to come back. */
export interface QuorumLossReport {
  readonly step: number;
  /** 'majority': a minority survives (the rescue path); 'all': every instance is lost (the backup path). */
  readonly kind: 'majority' | 'all';
  readonly lost: readonly string[];
  /** The snapshot the cluster was restored from, and whether it is a rescue snapshot. */
  readonly restoredFrom: string | undefined;
  readonly rescue: boolean;
  /** From the loss to a healthy cluster matching the group, including the restore wait (CHAOS_RESTORE_AFTER_MS). */
  readonly recoveryMs: number | undefined;
  /** Acknowledged writes lost after the newest snapshot: the recovery point (allowed). */
  readonly writesLost: readonly number[];
}

/** The heal threshold (ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS) of runs with long faults. */
export const LONG_FAULT_THRESHOLD_SECONDS = 5;
/** How long a long fault may take to be healed (threshold, reconcile passes, replacement). */
const HEAL_TIMEOUT_MS = 90_000;

export interface ChaosResult {
  readonly seed: number;
  readonly longFaults: boolean;
  readonly loseQuorum: boolean;
  readonly steps: number;
  readonly ok: boolean;
  readonly violations: string[];
  readonly schedule: string[];
  readonly writes: { readonly attempted: number; readonly acknowledged: number; readonly lost: number[] };
  readonly reconcilePasses: number;
  readonly quorumLoss?: QuorumLossReport;
  /** The distinct reasons of the handler's refusals (launches abandoned, removals kept). */
  readonly refusals: string[];
  readonly deliveries: number;
  readonly samples: number;
  readonly durationMs: number;
}

type Action = 'crash' | 'hang' | 'hang-long' | 'crash-loop' | 'replace-one' | 'replace-two' | 'scale-out' | 'scale-out-two' | 'scale-in';
type EventFault = 'none' | 'duplicate' | 'delay' | 'reorder' | 'drop' | 'crash-handler' | 'concurrent';

function pick<T>(random: SeededRandom, items: readonly T[]): T {
  const item = items[random.nextUint32() % items.length];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const random = new SeededRandom(options.seed);
  const baseSize = options.baseSize ?? 3;
  const log = options.log ?? (() => undefined);
  const schedule: string[] = [];
  const violations: string[] = [];
  const note = (line: string) => {
    schedule.push(line);
    log(`  step ${line}`);
  };
  const onLog = (entry: WorldLogEntry) => {
    if (options.verbose === true) log(`    [${(entry.at / 1000).toFixed(1)}s] ${entry.source}: ${entry.message}`);
  };
  const world = await startWorld({
    clusterSize: 5,
    seed: options.seed,
    onLog,
    ...(options.etcdVersion !== undefined && { etcdVersion: options.etcdVersion }),
    ...(options.longFaults === true && { unhealthyAfterSeconds: LONG_FAULT_THRESHOLD_SECONDS, restartEtcdAfterMs: 300 }),
    ...(options.loseQuorum === true && {
      backupBucket: CHAOS_BUCKET,
      backupIntervalSeconds: 600,
      restoreAfterMs: CHAOS_RESTORE_AFTER_MS,
    }),
  });
  // Its own generator, so the other faults' schedule is the same with and without the flag.
  const lossRandom = new SeededRandom((options.seed ^ 0x5eed1055) >>> 0);
  const lossStep = options.loseQuorum === true ? 1 + (lossRandom.nextUint32() % options.steps) : 0;
  const lossKind = lossRandom.nextUint32() % 2 === 0 ? 'majority' : 'all';
  let loss: { step: number; kind: 'majority' | 'all'; lost: string[]; protectedWrites: Set<number>; atLoss: Set<number> } | undefined;
  let quorumLoss: QuorumLossReport | undefined;
  /** Instance IDs whose etcd the chaos killed or hung, while it is down. */
  const chaosDown = new Set<string>();
  const probe = (url: string, init?: Parameters<World['probeJson']>[1]) => world.probeJson(url, init);
  const writer = new Writer(() => world.endpoints(), probe);
  const monitor = new QuorumMonitor(
    () => world.endpoints(),
    () => chaosDown,
    undefined,
    probe,
  );
  let reconcilePasses = 0;
  let lost: number[] = [];
  try {
    await world.scaleTo(baseSize);
    await world.settle({ timeoutMs: 60_000 });
    if (options.mixedWith !== undefined) world.setLaunchVersion(options.mixedWith);
    writer.start();
    monitor.start();

    for (let step = 1; step <= options.steps; step++) {
      const serving = world.inService();
      const size = serving.length;
      // Shrinking only from above the base size; growing only up to the cluster size.
      const actions: Action[] = ['crash', 'hang', 'replace-one', 'replace-two'];
      if (size < 5) actions.push('scale-out');
      if (size <= 3) actions.push('scale-out-two');
      if (size > baseSize) actions.push('scale-in');
      if (options.longFaults === true) actions.push('hang-long', 'crash-loop');
      const action = pick(random, actions);
      // A hung member stays hung while a second change happens, so the handler must decide around it. The chaos
      // never touches a majority at once: hung plus replaced members stay within floor((size - 1) / 2).
      const spare = Math.floor((size - 1) / 2) - 1;
      const companions = actions.filter((a) => !isMemberFault(a) && replacedBy(a) <= spare);
      const alongside = action === 'hang' && companions.length > 0 ? pick(random, companions) : undefined;
      const fault = pick(random, [
        'none',
        'none',
        'duplicate',
        'delay',
        'reorder',
        'drop',
        'crash-handler',
        'concurrent',
      ] as const satisfies readonly EventFault[]);
      const hung: string[] = [];
      const target = pick(random, serving);
      if (step === lossStep) {
        loss = await loseQuorum(world, writer, monitor, lossKind, step, chaosDown);
        note(`${step}/${options.steps}: lose-quorum ${lossKind}: ${loss.lost.join(', ')} killed at once, right after a backup`);
        const began = Date.now();
        let recoveryMs: number | undefined;
        try {
          await world.settle({ timeoutMs: RECOVERY_TIMEOUT_MS });
          recoveryMs = Date.now() - began;
        } catch (err) {
          violations.push(`the cluster did not recover from the lost quorum: ${err instanceof Error ? err.message : String(err)}`);
        }
        const restore = world.telemetry
          ?.decisions()
          .filter((d) => d.decision === 'restore')
          .at(-1);
        const restoredFrom = restore === undefined ? undefined : String(restore.key);
        const rescue = restoredFrom?.includes('-rescue-') === true;
        // A rescue snapshot is taken after the loss: every write acknowledged before it is protected.
        if (rescue) loss.protectedWrites = loss.atLoss;
        quorumLoss = { step, kind: lossKind, lost: loss.lost, restoredFrom, rescue, recoveryMs, writesLost: [] };
        note(
          `${step}/${options.steps}:   ${recoveryMs === undefined ? 'NOT recovered' : `recovered in ${(recoveryMs / 1000).toFixed(1)} s`} from ${restoredFrom ?? 'no snapshot'}${rescue ? ' (rescue snapshot)' : ''}`,
        );
        for (const id of [...chaosDown]) if (world.group.instance(id)?.lifecycleState === 'Terminated') chaosDown.delete(id);
        monitor.resume();
        await monitor.sample(`after step ${step}`);
        continue;
      }
      switch (action) {
        case 'crash':
          // One member down at a time, so the chaos never takes a majority.
          chaosDown.add(target);
          await world.crash(target);
          break;
        case 'hang':
          chaosDown.add(target);
          hung.push(target);
          world.etcdOf(target)?.stop();
          if (alongside !== undefined)
            await groupChange(
              world,
              random,
              alongside,
              serving.filter((id) => id !== target),
              size,
            );
          break;
        case 'hang-long':
        case 'crash-loop':
          // Stays down until the group replaces its instance: only the heal (SetInstanceHealth) ends it.
          chaosDown.add(target);
          if (action === 'hang-long') world.etcdOf(target)?.stop();
          else await world.corruptDataDir(target);
          break;
        default:
          await groupChange(world, random, action, serving, size);
      }
      note(
        `${step}/${options.steps}: ${action}${isMemberFault(action) ? ` ${target}` : ''}${alongside === undefined ? '' : ` while ${alongside}`}, events: ${fault}`,
      );
      await applyEventFault(world, random, fault, (line) => note(`${step}/${options.steps}:   ${line}`));

      // Deliver what is queued, one at a time, sampling the quorum after every handler action. A hung member
      // stays hung for a bounded number of invocations (launches refused meanwhile make the group try again).
      await deliverAll(world, monitor, {
        stopWhenQueueEmpty: true,
        ...(hung.length > 0 && { budget: HUNG_INVOCATIONS, untilBudget: true }),
      });
      for (const id of hung) {
        world.etcdOf(id)?.resume();
        chaosDown.delete(id);
      }
      world.release();
      await deliverAll(world, monitor);
      if (action === 'hang-long' || action === 'crash-loop') {
        const healed = await awaitHealed(world, monitor, target);
        if (!healed) violations.push(`${action} of ${target} was not healed within ${HEAL_TIMEOUT_MS / 1000} s`);
        note(
          `${step}/${options.steps}:   ${target} ${healed ? 'healed: reported unhealthy and replaced through the group' : 'NOT healed'}`,
        );
      }
      for (const id of [...chaosDown]) if (world.group.instance(id)?.lifecycleState === 'Terminated') chaosDown.delete(id);
      await monitor.sample(`after step ${step}`);
    }

    // The faults stop. Convergence: deliver what is left, then reconcile until the cluster matches the group.
    world.release();
    for (const id of chaosDown) world.etcdOf(id)?.resume();
    for (;;) {
      await deliverAll(world, monitor);
      const check = await world.check();
      if (check.problems.length === 0) break;
      if (reconcilePasses >= MAX_RECONCILE_PASSES) {
        violations.push(`not converged after ${reconcilePasses} reconcile passes: ${check.problems.join('; ')}`);
        break;
      }
      reconcilePasses++;
      await world.reconcile();
      await waitForLearners(world);
    }
    await writer.stop();
    await monitor.stop();
    const readBack = await lostWrites(world.endpoints(), writer.acknowledged, probe);
    if (!readBack.read) violations.push('could not read the written keys back from any member');
    lost = readBack.lost;
    if (loss !== undefined && quorumLoss !== undefined) {
      // Acknowledged after the newest snapshot and before the loss: the recovery point, not a violation.
      const atLoss = loss.atLoss;
      const kept = loss.protectedWrites;
      quorumLoss = { ...quorumLoss, writesLost: lost.filter((n) => atLoss.has(n) && !kept.has(n)) };
      lost = lost.filter((n) => !(atLoss.has(n) && !kept.has(n)));
    }
    if (lost.length > 0)
      violations.push(`${lost.length} acknowledged writes lost: ${lost.slice(0, 10).join(', ')}${lost.length > 10 ? ', ...' : ''}`);
    if (writer.acknowledged.size === 0) violations.push('the writer never got a write acknowledged');
  } catch (err) {
    violations.push(`the run failed: ${err instanceof Error ? err.message : String(err)}\n${world.describeTimeline(15)}`);
  } finally {
    await writer.stop();
    await monitor.stop();
    violations.push(...monitor.violations.slice(0, 5));
    if (monitor.violations.length > 5) violations.push(`... and ${monitor.violations.length - 5} more quorum violations`);
    for (const id of chaosDown) world.etcdOf(id)?.resume();
    await world.close();
  }
  return {
    seed: options.seed,
    longFaults: options.longFaults === true,
    loseQuorum: options.loseQuorum === true,
    steps: options.steps,
    ok: violations.length === 0,
    violations,
    schedule,
    writes: { attempted: writer.attempted, acknowledged: writer.acknowledged.size, lost },
    reconcilePasses,
    ...(quorumLoss !== undefined && { quorumLoss }),
    refusals: [
      ...new Set(
        (world.telemetry?.decisions() ?? [])
          .filter((d) => d.decision === 'refuse' || d.decision === 'keep')
          .map((d) => `${String(d.decision)}: ${String(d.reason)}`),
      ),
    ],
    deliveries: world.deliveries.length,
    samples: monitor.samples.length,
    durationMs: Date.now() - started,
  };
}

/**
 * The lose-quorum fault: a regular backup now (the writes acknowledged before it are protected), then a
 * majority or every instance killed at once and replaced by the group. The quorum monitor stops judging until
 * the caller resumes it.
 */
async function loseQuorum(
  world: World,
  writer: Writer,
  monitor: QuorumMonitor,
  kind: 'majority' | 'all',
  step: number,
  chaosDown: Set<string>,
): Promise<{ step: number; kind: 'majority' | 'all'; lost: string[]; protectedWrites: Set<number>; atLoss: Set<number> }> {
  const protectedWrites = new Set(writer.acknowledged);
  await world.backUpNow();
  await delay(300); // more writes after the backup: what a rescue must save
  monitor.suspend('a quorum lost on purpose');
  const lost = kind === 'all' ? await world.loseAll() : await world.loseMajority();
  // Taken once the majority is dead: nothing is acknowledged without a quorum, so no write of before is missed.
  const atLoss = new Set(writer.acknowledged);
  for (const id of lost) chaosDown.add(id);
  return { step, kind, lost, protectedWrites, atLoss };
}

function isMemberFault(action: Action): boolean {
  return action === 'crash' || action === 'hang' || action === 'hang-long' || action === 'crash-loop';
}

/** Runs the schedule (deliveries and reconcile passes) until `target`'s instance was replaced, bounded. */
async function awaitHealed(world: World, monitor: QuorumMonitor, target: string): Promise<boolean> {
  const deadline = Date.now() + HEAL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (world.group.instance(target)?.lifecycleState === 'Terminated') {
      await deliverAll(world, monitor);
      return true;
    }
    await world.reconcile();
    await monitor.sample('after a reconcile pass');
    await deliverAll(world, monitor);
    await delay(500);
  }
  return false;
}

function replacedBy(action: Action): number {
  return action === 'replace-one' ? 1 : action === 'replace-two' ? 2 : 0;
}

/** A change the group makes: replacements (one or two at once) and scaling, never below the base size. */
async function groupChange(world: World, random: SeededRandom, action: Action, candidates: readonly string[], size: number): Promise<void> {
  switch (action) {
    case 'replace-one':
      await world.replace(pick(random, candidates));
      return;
    case 'replace-two': {
      const first = pick(random, candidates);
      await world.replace(first);
      await world.replace(
        pick(
          random,
          candidates.filter((id) => id !== first),
        ),
      );
      return;
    }
    case 'scale-out':
      await world.scaleTo(size + 1);
      return;
    case 'scale-out-two':
      await world.scaleTo(size + 2);
      return;
    case 'scale-in':
      await world.scaleTo(size - 1);
      return;
    case 'crash':
    case 'hang':
    case 'hang-long':
    case 'crash-loop':
      throw new Error(`${action} is not a group change`);
  }
}

/**
 * Delivers queued events one at a time, with the scheduled reconcile pass after every RECONCILE_EVERY
 * deliveries and whenever lifecycle actions are pending with nothing left to deliver (lost events). The quorum
 * is sampled after every handler action. Bounded: a run that does not quiet down fails.
 */
async function deliverAll(
  world: World,
  monitor: QuorumMonitor,
  options: { stopWhenQueueEmpty?: boolean; budget?: number; /** Stop quietly when the budget is used up. */ untilBudget?: boolean } = {},
): Promise<void> {
  const budget = options.budget ?? 60;
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  let sinceReconcile = 0;
  for (let i = 0; i < budget && Date.now() < deadline; i++) {
    const pending = world.group.pendingActions().length > 0;
    if (world.queue.length === 0 && (options.stopWhenQueueEmpty === true || !pending)) return;
    if (world.queue.length > 0 && sinceReconcile < RECONCILE_EVERY) {
      const delivery = await world.deliver();
      sinceReconcile++;
      await monitor.sample(`after ${delivery?.summary ?? 'a delivery'}${delivery?.error === undefined ? '' : ' (failed)'}`);
    } else {
      await world.reconcile();
      sinceReconcile = 0;
      await monitor.sample('after a reconcile pass');
    }
  }
  if (options.untilBudget === true) return;
  throw new Error(
    `not quiet after ${budget} handler invocations or ${STEP_TIMEOUT_MS / 1000} s: queued ${world.queue.map((q) => q.summary).join(', ') || 'nothing'}, ` +
      `pending ${
        world.group
          .pendingActions()
          .map((a) => `${a.transition} ${a.instanceId}`)
          .join(', ') || 'nothing'
      }`,
  );
}

/** Disturbs the queued events (as EventBridge and Lambda may) or arms a handler crash. */
async function applyEventFault(world: World, random: SeededRandom, fault: EventFault, note: (line: string) => void): Promise<void> {
  const queued = world.queue;
  const victim = queued.length === 0 ? undefined : pick(random, queued);
  switch (fault) {
    case 'none':
      return;
    case 'duplicate':
      if (victim !== undefined) world.duplicate((q) => q === victim, { atBack: random.nextUint32() % 2 === 0 });
      note(`duplicated ${victim?.summary ?? 'nothing'}`);
      return;
    case 'delay':
      // Held until the end of the step: delivered after everything else of it.
      if (victim !== undefined) world.hold((q) => q === victim);
      note(`delayed ${victim?.summary ?? 'nothing'}`);
      return;
    case 'reorder':
      if (queued.length > 1) world.prioritize((q) => q === queued[queued.length - 1]);
      note(`reordered (${queued.length} queued)`);
      return;
    case 'drop':
      if (victim !== undefined) world.drop((q) => q === victim);
      note(`lost ${victim?.summary ?? 'nothing'} (the reconcile pass must catch up)`);
      return;
    case 'crash-handler': {
      const step = pick(random, FAULT_POINTS);
      world.crashAt(step);
      note(`the handler will crash at ${step}`);
      return;
    }
    case 'concurrent': {
      // Two invocations at once (as if reserved concurrency were not 1, or the CLI ran alongside).
      const [first, second] = await Promise.all([world.deliver(), world.deliver()]);
      note(`delivered ${first?.summary ?? 'nothing'} and ${second?.summary ?? 'nothing'} concurrently`);
      return;
    }
  }
}

/** Gives a just-started learner a moment to catch up before the next reconcile pass looks (bounded). */
async function waitForLearners(world: World): Promise<void> {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    const check = await world.check();
    if (!check.problems.some((p) => p.startsWith('learners') || p.includes('not healthy'))) return;
    await delay(200);
  }
}
