// The four SDK clients, created once per Lambda container and injectable for tests. Only the client
// classes are imported here; each adapter imports just the commands it sends, so the bundle stays small.
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

export interface AwsClients {
  readonly autoScaling: AutoScalingClient;
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly sqs: SQSClient;
}

export interface AwsClientOptions {
  /** Defaults to the SDK's own resolution (AWS_REGION on Lambda). */
  readonly region?: string;
  /**
   * Attempts per call including the first, with the SDK's standard retry strategy (exponential backoff
   * with jitter; throttling errors are retried). 5 rides out a short burst of throttling while staying
   * well inside a Lambda timeout.
   */
  readonly maxAttempts?: number;
  /** Per-service endpoints (tests and the simulated cloud); otherwise AWS_ENDPOINT_URL_* or the default. */
  readonly endpoints?: { readonly autoScaling?: string; readonly ec2?: string; readonly ssm?: string; readonly sqs?: string };
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

export const DEFAULT_MAX_ATTEMPTS = 5;

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const common = {
    maxAttempts: options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    retryMode: 'standard',
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.credentials === undefined ? {} : { credentials: { ...options.credentials } }),
  } as const;
  const endpoint = (url: string | undefined) => (url === undefined ? {} : { endpoint: url });
  return {
    autoScaling: new AutoScalingClient({ ...common, ...endpoint(options.endpoints?.autoScaling) }),
    ec2: new EC2Client({ ...common, ...endpoint(options.endpoints?.ec2) }),
    ssm: new SSMClient({ ...common, ...endpoint(options.endpoints?.ssm) }),
    sqs: new SQSClient({ ...common, ...endpoint(options.endpoints?.sqs) }),
  };
}

let shared: AwsClients | undefined;

/** The container-wide clients: created on first use, reused by every later invocation. */
export function sharedAwsClients(): AwsClients {
  shared ??= createAwsClients();
  return shared;
}
