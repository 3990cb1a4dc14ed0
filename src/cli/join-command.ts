// The main command: observe the cluster, plan, execute under the cluster lock, keep the discovery registry
// in step, and print etcd's configuration.
import { setTimeout as delay } from 'node:timers/promises';
import { deriveClientEndpoints, type Registry } from '../adapters/discovery/index.js';
import { errorMessage } from '../core/errors.js';
import { memberIdToHex } from '../core/ids.js';
import { memberLabel } from '../core/members.js';
import { render, renderJson, type DropinOptions } from '../core/render.js';
import type { ClusterSize, Member, Plan } from '../core/types.js';
import type { JoinResult } from '../services/join.js';
import type { Logger } from '../services/log.js';
import { toEtcdConnection } from './connection.js';
import type { CliDependencies, CliIO } from './context.js';
import { EXIT_FAILED, EXIT_OK, oneLine } from './errors.js';
import { refusalHint } from './failure.js';
import type { JoinOptions } from './options.js';
import { promoteCommandLine } from './promote-command-line.js';

/** The unit the drop-in ties etcd to, as the original's (a oneshot that writes the drop-in). */
export const ELASTIC_ETCD_UNIT = 'elastic-etcd.service';

/**
 * runJoinCommand is `elastic-etcd join`: checks the data dir, reads the discovery registry, runs the join
 * (see runJoin), keeps the registry in step with the members it added and removed, and prints etcd's
 * configuration in the chosen format on stdout. Returns EXIT_OK, or EXIT_FAILED for a refusal (its message
 * and hint on stderr; with `-o json` the refusal document on stdout too). Other failures are thrown to main.
 */
export async function runJoinCommand(options: JoinOptions, deps: CliDependencies, io: CliIO, log: Logger): Promise<number> {
  const connection = await toEtcdConnection(options.connection, deps);
  const freshness = await deps.isDataDirFresh(options.dataDir);
  if (freshness.unexpectedEntries.length > 0) {
    log.warn(`data dir ${options.dataDir} holds entries etcd does not own: ${freshness.unexpectedEntries.join(', ')}`);
  }
  log.debug(2, `data dir ${options.dataDir} is ${freshness.fresh ? 'fresh (no member data)' : 'not fresh (holds member data)'}`);

  const discoveryOptions = io.signal === undefined ? {} : { signal: io.signal };
  const [registry, discoverySize] = await Promise.all([
    deps.readRegistry(options.discoveryURL, discoveryOptions),
    deps.readSize(options.discoveryURL, discoveryOptions),
  ]);
  for (const problem of registry.problems) log.warn(`discovery registry entry ${problem.key} skipped: ${problem.reason}`);
  log.debug(2, `discovery: ${registry.entries.length} of ${discoverySize} members registered`);

  const targetSize: ClusterSize = options.clusterSize === 'from-discovery' ? discoverySize : options.clusterSize;
  const endpoints = [
    ...new Set([...options.connection.endpoints, ...deriveClientEndpoints(registry.entries, options.connection.clientPort)]),
  ];
  log.debug(4, `looking for the cluster at ${endpoints.length === 0 ? '(no endpoints)' : endpoints.join(',')}`);

  const join = () =>
    deps.runJoin({
      self: options.self,
      dataDir: options.dataDir,
      dataDirFresh: freshness.fresh,
      strategy: options.strategy,
      joinAs: options.joinAs,
      targetSize,
      bootstrap: { kind: 'discovery', url: options.discoveryURL, size: discoverySize, registered: registry.entries.length },
      endpoints,
      dryRun: options.dryRun,
      connection,
      lockTimeoutMs: options.lockTimeoutMs,
      holder: options.self.name,
      log,
      ...(io.signal !== undefined && { signal: io.signal }),
      ...(options.unhealthyAfterMs !== undefined && { unhealthyAfterMs: options.unhealthyAfterMs }),
    });
  const result = await joinPastSuspects(join, options, io, log);
  const { plan } = result;

  if (plan.kind === 'refuse') {
    // -o json asked for a machine-readable answer: the refusal document goes to stdout, still with exit 1.
    if (options.format === 'json') io.stdout(renderJson(plan));
    io.stderr(oneLine(`join refused (${plan.code}): ${plan.message}`, refusalHint(plan.code)));
    return EXIT_FAILED;
  }

  if (options.dryRun) logDryRunSteps(plan, log);
  else await keepRegistryInStep(options, registry, discoverySize, result, deps, io, log);
  io.stdout(renderOutput(options, plan, io.selfCommand));
  return EXIT_OK;
}

/**
 * With --unhealthy-after, a refusal that waits on a member unreachable for less than that long is retried:
 * this run keeps watching (each attempt updates the health history in etcd) until the member answers or has
 * been unreachable long enough to count as dead, bounded by the duration plus the lock timeout, or the run's
 * own end (its abort signal).
 */
async function joinPastSuspects(join: () => Promise<JoinResult>, options: JoinOptions, io: CliIO, log: Logger): Promise<JoinResult> {
  let result = await join();
  if (options.unhealthyAfterMs === undefined || options.dryRun) return result;
  const deadline = Date.now() + options.unhealthyAfterMs + options.lockTimeoutMs;
  while (result.plan.kind === 'refuse' && result.plan.code === 'member-suspect' && Date.now() < deadline && io.signal?.aborted !== true) {
    log.info('waiting for an unreachable member to answer or to count as dead', { reason: result.plan.message });
    try {
      await delay(Math.min(RECHECK_MS, options.unhealthyAfterMs), undefined, io.signal === undefined ? {} : { signal: io.signal });
    } catch {
      break; // aborted: the run ends with the last refusal
    }
    result = await join();
  }
  return result;
}

const RECHECK_MS = 5_000;

/** The steps a dry run skipped, so the operator sees exactly what a real run would change. */
function logDryRunSteps(plan: Exclude<Plan, { kind: 'refuse' }>, log: Logger): void {
  if (plan.kind === 'resume' && plan.updatePeerURLs !== undefined) {
    log.info(
      `dry run: would update the peer URLs of ${memberLabel(plan.updatePeerURLs.member)} to ${plan.updatePeerURLs.peerURLs.join(',')}`,
    );
  }
  if (plan.kind !== 'join') return;
  for (const removal of plan.removals) log.info(`dry run: would remove member ${memberLabel(removal.member)} (${removal.reason})`);
  const { admission } = plan;
  log.info(
    admission.kind === 'add'
      ? `dry run: would add this node as a ${admission.asLearner ? 'learner' : 'voter'} with peer URLs ${admission.peerURLs.join(',')}`
      : `dry run: would start as the existing unstarted member ${memberLabel(admission.member)}`,
  );
  if (plan.promote) log.info('dry run: would promote this node once its learner is in sync (elastic-etcd promote)');
}

function renderOutput(options: JoinOptions, plan: Exclude<Plan, { kind: 'refuse' }>, selfCommand: readonly string[]): string {
  if (options.format === 'json') return renderJson(plan);
  const needsPromotion = plan.kind !== 'bootstrap' && plan.promote;
  const dropin: DropinOptions = {
    requires: ELASTIC_ETCD_UNIT,
    ...(needsPromotion && { execStartPost: [`-${options.promoteCommand ?? promoteCommandLine(options, selfCommand)}`] }),
  };
  return render(options.format, plan.settings, dropin);
}

/**
 * Registers an admitted member, also a reused one (idempotent: a re-run finds its own entry and is fine, where the
 * original tool failed on it), and deregisters removed ones, but only while the registry keeps at least `size`
 * entries: that count tells a later fresh node the cluster has formed, and dropping below it would let that node
 * bootstrap a second cluster.
 * Registry trouble is logged, not fatal: membership already changed, etcd must start now, and the next run
 * registers again.
 */
async function keepRegistryInStep(
  options: JoinOptions,
  registry: Registry,
  size: number,
  result: JoinResult,
  deps: CliDependencies,
  io: CliIO,
  log: Logger,
): Promise<void> {
  if (!result.executed) return;
  const discoveryOptions = io.signal === undefined ? {} : { signal: io.signal };
  const registered = new Set(registry.entries.map((e) => e.id));
  if (result.admitted !== undefined) {
    const { id } = result.admitted;
    try {
      const outcome = await deps.register(options.discoveryURL, id, options.self.name, options.self.peerURLs, discoveryOptions);
      registered.add(id);
      log.info(`discovery: ${outcome === 'created' ? 'registered' : 'already registered'} ${options.self.name} as ${memberIdToHex(id)}`);
    } catch (err) {
      log.warn(`discovery: could not register ${options.self.name} as ${memberIdToHex(id)}: ${errorMessage(err)}; the next run retries`);
    }
  }
  for (const member of result.removed) await deregisterRemoved(options, member, registered, size, deps, discoveryOptions, log);
}

async function deregisterRemoved(
  options: JoinOptions,
  member: Member,
  registered: Set<bigint>,
  size: number,
  deps: CliDependencies,
  discoveryOptions: { signal?: AbortSignal },
  log: Logger,
): Promise<void> {
  if (!registered.has(member.id)) return;
  if (registered.size - 1 < size) {
    log.info(
      `discovery: kept the entry of removed member ${memberLabel(member)}, so the registry still shows ${size} members and no fresh node bootstraps a second cluster`,
    );
    return;
  }
  try {
    await deps.deregister(options.discoveryURL, member.id, discoveryOptions);
    registered.delete(member.id);
    log.info(`discovery: deregistered removed member ${memberLabel(member)}`);
  } catch (err) {
    log.warn(`discovery: could not deregister removed member ${memberLabel(member)}: ${errorMessage(err)}`);
  }
}
