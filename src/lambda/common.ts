// What every lifecycle decision shares: its dependencies, the error that asks for a later retry, and small
// helpers for lifecycle actions and logging.
import type { RefusalCode } from '../core/types.js';
import { hostOf } from '../core/urls.js';
import type { AutoScalingAdapter, Ec2Adapter, LifecycleActionRef, ParameterStore, QueueAdapter } from '../adapters/aws/index.js';
import type { BackupStore } from '../adapters/aws/backups.js';
import type { EtcdConnection } from '../services/connection.js';
import type { Logger } from '../services/log.js';
import type { LambdaConfig } from './config.js';
import type { LifecycleEvent } from './events.js';
import type { Telemetry } from './log.js';

export interface LifecycleDeps {
  readonly config: LambdaConfig;
  readonly autoScaling: AutoScalingAdapter;
  readonly ec2: Ec2Adapter;
  readonly parameters: ParameterStore;
  /** The serialising queue: a failed record is given back to it after a short delay. None: SQS decides. */
  readonly queue?: QueueAdapter;
  readonly telemetry: Telemetry;
  readonly connection: EtcdConnection;
  /** Milliseconds left in this invocation. */
  readonly remainingMs: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** How long a launch waits for another join to finish, or for its learner to be promoted. */
  readonly launchWaitMs?: number;
  /**
   * How long a launch keeps looking again before it abandons an unsafe join: a cluster that just lost its
   * leader, or a member that is briefly unreachable, is often fine seconds later.
   */
  readonly unsafeRecheckMs?: number;
  /** How long a member this launch added is given to start before others may treat it as dead (default 120 s). */
  readonly joinGraceSeconds?: number;
  /** Where snapshots go (config.backup); none: no backups are taken. */
  readonly backups?: BackupStore;
  /** Test-only fault injection: throwing here simulates a crash between two steps. */
  readonly faultPoint?: (step: string) => void;
}

/** A refusal that goes away by itself: retry later (the event is redelivered, reconcile retries too). */
export class RetryLaterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

export const TRANSIENT_REFUSALS: readonly RefusalCode[] = ['join-in-progress', 'learner-pending', 'bootstrap-in-progress', 'member-suspect'];
/** Refusals that depend on members' health at this moment: looked at again for a while before abandoning. */
export const HEALTH_REFUSALS: readonly RefusalCode[] = ['no-quorum', 'quorum-at-risk', 'cluster-down'];
/** Time kept in reserve at the end of an invocation for completing the action and logging. */
export const RESERVE_MS = 15_000;
const HEARTBEAT_EVERY_MS = 60_000;

/** The lifecycle action an event is about; reconcile passes have no token and name the instance instead. */
export function actionRef(groupName: string, hookName: string, event: Pick<LifecycleEvent, 'instanceId' | 'token'>): LifecycleActionRef {
  return { groupName, hookName, instanceId: event.instanceId, ...(event.token !== '' && { token: event.token }) };
}

export function heartbeater(deps: LifecycleDeps, ref: LifecycleActionRef): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < HEARTBEAT_EVERY_MS) return;
    last = Date.now();
    await deps.autoScaling.recordHeartbeat(ref);
  };
}

export function safeHost(url: string): string | undefined {
  try {
    return hostOf(url);
  } catch {
    return undefined;
  }
}

export function loggerFor(telemetry: Telemetry): Logger {
  return {
    debug: (_level, message, fields) => telemetry.debug(message, fields),
    info: (message, fields) => telemetry.info(message, fields),
    warn: (message, fields) => telemetry.warn(message, fields),
    error: (message, fields) => telemetry.error(message, fields),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
