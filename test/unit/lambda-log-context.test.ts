// The handler's log context on a warm container: one module instance (lambda/handler.ts as Lambda keeps it
// between invocations) handles a launch, then a reconcile pass. Each line carries its own invocation's request
// ID, and the launch's event and instance IDs do not leak onto the reconcile pass's lines. Real Powertools
// output (JSON lines on stdout), a simulated cloud and no etcd: nothing here needs a member to answer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SQSBatchResponse } from 'aws-lambda';
import type { InvocationResult } from '../../src/lambda/handle.js';
import { scheduledEvent } from '../sim/events.js';
import { startWorld, type World } from '../sim/world.js';

type Handler = (
  event: unknown,
  context?: { getRemainingTimeInMillis(): number; awsRequestId: string; invokedFunctionArn: string },
) => Promise<InvocationResult | SQSBatchResponse>;

let world: World;
let handler: Handler;
const saved = { ...process.env };

before(async () => {
  world = await startWorld({ seed: 11, boot: 'none' });
  await world.scaleTo(1);
  for (const [key, value] of Object.entries(world.env)) process.env[key] = value;
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  delete process.env.POWERTOOLS_LOG_LEVEL;
  // As Lambda sets it for an on-demand container: Powertools reports a cold start only then.
  process.env.AWS_LAMBDA_INITIALIZATION_TYPE = 'on-demand';
  ({ handler } = await import('../../lambda/handler.js'));
});

after(async () => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
  await world.close();
});

/** Runs one invocation and returns the JSON log lines it wrote to stdout. */
async function logsOf(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const writes: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  };
  try {
    await run();
  } finally {
    process.stdout.write = original;
  }
  return writes
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => !('_aws' in line));
}

const functionArn = 'arn:aws:lambda:us-east-1:123456789012:function:elastic-etcd';

test('a launch then a reconcile on one warm container: the reconcile lines carry no key of the launch', async () => {
  const [instanceId] = world.idsIn('Pending:Wait');
  assert.ok(instanceId !== undefined);
  const launch = world.queue[0]!.event as { id: string };

  const launchLines = await logsOf(() =>
    handler(launch, { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'request-launch', invokedFunctionArn: functionArn }),
  );
  const decision = launchLines.find((l) => l.message === 'decision');
  assert.equal(decision?.decision, 'bootstrap', JSON.stringify(launchLines));
  assert.equal(decision?.eventId, launch.id, 'the launch lines carry its event ID');
  assert.equal(decision?.instanceId, instanceId);
  for (const line of launchLines)
    assert.deepEqual([line.function_request_id, line.cold_start], ['request-launch', true], JSON.stringify(line));

  const group = world.group;
  const reconcile = scheduledEvent({ id: 'reconcile-event-1', time: new Date(), region: group.region, account: group.account });
  const reconcileLines = await logsOf(() =>
    handler(reconcile, { getRemainingTimeInMillis: () => 60_000, awsRequestId: 'request-reconcile', invokedFunctionArn: functionArn }),
  );
  assert.ok(
    reconcileLines.some((l) => l.message === 'decision' && l.decision === 'reconciled'),
    JSON.stringify(reconcileLines),
  );
  for (const line of reconcileLines) {
    assert.equal(line.function_request_id, 'request-reconcile', JSON.stringify(line));
    assert.equal(line.cold_start, false);
    assert.ok(!('eventId' in line), `no event ID of the launch: ${JSON.stringify(line)}`);
    assert.notEqual(line.instanceId, instanceId, `no instance ID of the launch: ${JSON.stringify(line)}`);
  }
});
