// Wires the lifecycle handler's dependencies from the SDK clients: one place for the Lambda entry point and
// the simulated group used by the tests and the demo, so both run exactly the same adapters.
import { AutoScalingAdapter, Ec2Adapter, ParameterStore, QueueAdapter, type AwsClients } from '../adapters/aws/index.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { BackupStore, createS3Client } from '../adapters/aws/backups.js';
import type { EtcdConnection } from '../services/connection.js';
import type { LambdaConfig } from './config.js';
import type { LifecycleDeps } from './lifecycle.js';
import type { Telemetry } from './log.js';

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
  return { requestTimeoutMs: 3000, healthTimeoutMs: config.healthTimeoutMs };
}

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
      ...(wiring.instanceArn !== undefined && { instanceArn: wiring.instanceArn }),
    }),
    queue: new QueueAdapter(clients.sqs),
    telemetry: wiring.telemetry,
    connection: wiring.connection ?? defaultConnection(config),
    remainingMs: wiring.remainingMs,
    ...(config.backup !== undefined && { backups: new BackupStore(wiring.s3 ?? createS3Client(), config.backup) }),
    ...extra,
  };
}
