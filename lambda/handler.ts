// AWS Lambda entry point for the Auto Scaling lifecycle hooks and the scheduled reconcile pass, delivered
// through the serialising SQS FIFO queue (or, still accepted, directly by EventBridge).
// Thin on purpose: configuration is validated once per container, clients are created once, and every
// invocation goes to handleEvent (src/lambda/handle.ts).
import type { Context, SQSBatchResponse } from 'aws-lambda';
import { sharedAwsClients } from '../src/adapters/aws/index.js';
import { loadConfig, type LambdaConfig } from '../src/lambda/config.js';
import { lifecycleDeps } from '../src/lambda/deps.js';
import { handleInvocation, type InvocationResult } from '../src/lambda/handle.js';
import { createTelemetry, type InvocationContext } from '../src/lambda/log.js';

let config: LambdaConfig | undefined;
let configError: Error | undefined;
try {
  config = loadConfig(process.env);
} catch (err) {
  configError = err as Error;
}
// The metrics' cluster dimension is the parameter namespace: unique per deployment, where cluster names repeat.
const telemetry = createTelemetry(
  config === undefined ? {} : { clusterName: config.clusterName, clusterDimension: `${config.parameterPrefix}/${config.clusterName}` },
);

/**
 * The function's handler. An SQS batch answers `batchItemFailures` (the event source mapping must have
 * ReportBatchItemFailures on); a direct EventBridge event answers what was decided or throws to be retried.
 * A configuration error always throws: nothing can be handled until the environment is fixed.
 */
export async function handler(
  event: unknown,
  context?: Pick<Context, 'getRemainingTimeInMillis'> & InvocationContext,
): Promise<InvocationResult | SQSBatchResponse> {
  if (config === undefined) {
    telemetry.error('invalid configuration; fix the function environment', { error: configError?.message });
    throw configError ?? new Error('invalid configuration');
  }
  const clients = sharedAwsClients();
  // The request ID and cold start on every line of this invocation; the event's own keys are reset per event.
  if (context !== undefined) telemetry.addContext(context);
  return handleInvocation(
    event,
    lifecycleDeps({
      config,
      clients,
      telemetry,
      remainingMs: () => context?.getRemainingTimeInMillis() ?? 300_000,
      ...instanceArns(context?.invokedFunctionArn),
    }),
  );
}

/** Instance ARNs in this function's partition, region and account, read off the function's own ARN. */
function instanceArns(functionArn: string | undefined): { instanceArn?: (id: string) => string } {
  const match = /^arn:([^:]+):lambda:([^:]+):(\d{12}):function:/.exec(functionArn ?? '');
  if (match === null) return {};
  const [, partition = 'aws', region = '', account = ''] = match;
  return { instanceArn: (id) => `arn:${partition}:ec2:${region}:${account}:instance/${id}` };
}
