// What every lifecycle decision depends on, and how it is wired from the SDK clients: one place for the Lambda
// entry point and the simulated group used by the tests and the demo, so both run exactly the same adapters.
import { AutoScalingAdapter, Ec2Adapter, ParameterStore, QueueAdapter, type AwsClients } from '../adapters/aws/index.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { BackupStore, createS3Client } from '../adapters/aws/backups.js';
import type { EtcdConnection } from '../services/connection.js';
import type { JoinFaultPoint } from '../services/execute.js';
import type { LambdaConfig } from './config.js';
import type { Telemetry } from './log.js';
import { LAUNCH_WAIT_MS, LOCK_TIMEOUT_MS, POLL_MS, REQUEST_TIMEOUT_MS, sleep, UNSAFE_RECHECK_MS } from './timing.js';

/**
 * Where a test may make the handler "crash" between two steps: the join executor's steps, then the Lambda's own
 * (before storing an instance's parameters, before completing a launch, before removing a member, before
 * deleting a leaving instance's parameters).
 */
export type FaultPoint = JoinFaultPoint | 'store-parameters' | 'complete' | 'remove-member' | 'delete-parameters';

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
  readonly sleep: (ms: number) => Promise<void>;
  /** How long a launch waits for another join to finish, or for its learner to be promoted (LAUNCH_WAIT_MS). */
  readonly launchWaitMs: number;
  /** How long a launch or termination looks again before giving up on an unsafe change (UNSAFE_RECHECK_MS). */
  readonly unsafeRecheckMs: number;
  /** The pause between two looks while waiting (POLL_MS). */
  readonly pollMs: number;
  /** How long a membership change waits for the cluster lock (LOCK_TIMEOUT_MS). */
  readonly lockTimeoutMs: number;
  /** How long a member this launch added is given to start before others may treat it as dead (default: the config's). */
  readonly joinGraceSeconds?: number;
  /** How long a lost cluster must have been down before an automatic restore (default: config.backup.restoreAfterMs). */
  readonly restoreAfterMs?: number;
  /** Where snapshots go (config.backup); none: no backups are taken. */
  readonly backups?: BackupStore;
  /** Test-only fault injection: throwing here simulates a crash between two steps. */
  readonly faultPoint?: (step: FaultPoint) => void;
}

export interface LifecycleWiring {
  readonly config: LambdaConfig;
  readonly clients: AwsClients;
  readonly telemetry: Telemetry;
  readonly remainingMs: () => number;
  /** How an instance's ARN is spelled (tags its parameters); none: parameters are not tagged. */
  readonly instanceArn?: (instanceId: string) => string;
  readonly connection?: EtcdConnection;
  /** The S3 client for backups (config.backup); default: one from the environment (AWS_ENDPOINT_URL_S3 honoured). */
  readonly s3?: S3Client;
}

/** Request and health-check bounds for etcd in a VPC: a hung member costs at most the health timeout. */
export function defaultConnection(config: LambdaConfig): EtcdConnection {
  return { requestTimeoutMs: REQUEST_TIMEOUT_MS, healthTimeoutMs: config.healthTimeoutMs };
}

/**
 * The dependencies of every lifecycle decision: the AWS adapters over `wiring.clients`, and the production
 * timing (timing.ts) unless `extra` overrides it. Creates no connection and makes no call.
 */
export function lifecycleDeps(wiring: LifecycleWiring, extra: Partial<LifecycleDeps> = {}): LifecycleDeps {
  const { config, clients } = wiring;
  return {
    config,
    autoScaling: new AutoScalingAdapter(clients.autoScaling),
    ec2: new Ec2Adapter(clients.ec2),
    parameters: new ParameterStore(clients.ssm, {
      prefix: config.parameterPrefix,
      cluster: config.clusterName,
      group: config.autoScalingGroup,
      ...(config.tls?.kmsKeyId !== undefined && { kmsKeyId: config.tls.kmsKeyId }),
      ...(wiring.instanceArn !== undefined && { instanceArn: wiring.instanceArn }),
    }),
    queue: new QueueAdapter(clients.sqs),
    telemetry: wiring.telemetry,
    connection: wiring.connection ?? defaultConnection(config),
    remainingMs: wiring.remainingMs,
    sleep,
    launchWaitMs: LAUNCH_WAIT_MS,
    unsafeRecheckMs: UNSAFE_RECHECK_MS,
    pollMs: POLL_MS,
    lockTimeoutMs: LOCK_TIMEOUT_MS,
    ...(config.backup !== undefined && { backups: new BackupStore(wiring.s3 ?? createS3Client(), config.backup) }),
    ...extra,
  };
}
