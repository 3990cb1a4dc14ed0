// The serialising queue: EventBridge events go into one SQS FIFO queue with a single
// message group, polled by the Lambda event source mapping. With several pollers running at once, no two
// invocations (so no two membership changes) ever overlap; a failed record comes back after the handler's short
// retry delay (ChangeMessageVisibility through the simulated SQS endpoint), not after the queue's 30-min
// visibility timeout, and what is queued behind it follows as soon as it succeeds; a duplicate event within 5
// minutes is delivered once. Delivered directly and concurrently (the old
// path, serialised only by a reserved concurrency of 1), the same events do overlap: that is what the queue
// prevents without a reservation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelaySeconds } from '../../src/lambda/sqs.js';
import { runEventSourceMapping, SimulatedFifoQueue } from '../sim/fifo.js';
import { startWorld, type World } from '../sim/world.js';
import { timelineFromEnv } from '../sim/timeline.js';

const TIMEOUT = { timeout: 240_000 };
const GROUP = 'elastic-etcd';
/** The world's invocation time limit, and the queue's visibility timeout at AWS's recommended 6x that. */
const INVOCATION_MS = 120_000;
const VISIBILITY_MS = 6 * INVOCATION_MS;

function assertSettled(problems: string[]): void {
  assert.deepEqual(problems, [], problems.join('\n'));
}

/** Pairs of intervals that overlap in time. */
function overlaps(intervals: readonly { summary: string; start: number; end: number }[]): string[] {
  const found: string[] = [];
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const [prev, next] = [sorted[i - 1]!, sorted[i]!];
    if (next.start < prev.end)
      found.push(`${prev.summary} [${prev.start}-${prev.end}] overlaps ${next.summary} [${next.start}-${next.end}]`);
  }
  return found;
}

describe('events through the serialising FIFO queue', () => {
  let world: World;
  before(async () => {
    world = await startWorld({ seed: 601, clusterSize: 5, invocationTimeoutMs: INVOCATION_MS, ...timelineFromEnv() });
    assertSettled((await world.bootstrap(3)).problems);
    await world.put('/e2e/queue', 'kept');
  });
  after(async () => world.close());

  test(
    'concurrent pollers: membership changes never overlap, a failed record is redelivered, a duplicate is delivered once',
    TIMEOUT,
    async () => {
      const queue = new SimulatedFifoQueue({
        visibilityTimeoutMs: VISIBILITY_MS,
        maxReceiveCount: 5,
        region: world.group.region,
        account: world.group.account,
      });
      world.cloud.attachQueue(queue);
      await world.scaleTo(5);
      world.group.emitScheduledEvent();
      const events = world.queue.splice(0).map((q) => q.event as { id: string });
      assert.equal(events.length, 3, 'two launches and a reconcile');
      for (const event of events)
        assert.equal(queue.send(JSON.stringify(event), { groupId: GROUP, deduplicationId: event.id }).duplicate, false);
      // EventBridge delivering the first launch twice: the same event ID within 5 minutes is accepted, not queued.
      assert.equal(queue.send(JSON.stringify(events[0]), { groupId: GROUP, deduplicationId: events[0]!.id }).duplicate, true);
      assert.equal(queue.depth, 3);

      // The first launch's first attempt crashes after joining, before storing its configuration.
      world.crashAt('store-parameters', 1);
      const from = world.invocations.length;
      await runEventSourceMapping(queue, (event) => world.deliverBatch(event), { pollers: 4 });

      const batches = world.invocations.slice(from);
      assert.deepEqual(overlaps(batches), [], 'no two invocations overlap');
      assert.ok(queue.blockedReceives > 0, 'other pollers asked while a message was in flight, and got nothing');
      assert.deepEqual(queue.deadLetters, []);
      // Four invocations: the failed first launch, its redelivery (before anything queued after it), the second
      // launch, the reconcile pass.
      const [firstLaunch, secondLaunch] = events
        .slice(0, 2)
        .map((e) => `launch ${(e as unknown as { detail: { EC2InstanceId: string } }).detail.EC2InstanceId}`);
      assert.deepEqual(
        batches.map((b) => b.summary),
        [firstLaunch, firstLaunch, secondLaunch, 'reconcile'],
      );
      // The crashed attempt was given back to the queue with the first retry delay.
      assert.deepEqual(
        world.cloud.callsOf('ChangeMessageVisibility').map((c) => [c.params.VisibilityTimeout, c.error]),
        [[retryDelaySeconds(1), undefined]],
      );

      const result = await world.settle();
      assertSettled(result.problems);
      assert.equal(result.members.length, 5);
      assert.equal(await world.get('/e2e/queue'), 'kept');
    },
  );

  test('the same kind of events delivered directly and concurrently do overlap (what the queue prevents)', TIMEOUT, async () => {
    const direct = await startWorld({ seed: 602, boot: 'none' });
    try {
      await direct.scaleTo(3);
      const events = direct.queue.splice(0).map((q) => q.event);
      const from = direct.invocations.length;
      await Promise.all(events.map((e) => direct.invokeDirect(e)));
      assert.ok(overlaps(direct.invocations.slice(from)).length > 0, 'concurrent direct invocations overlap');
    } finally {
      await direct.close();
    }
  });
});

describe('a launch waiting for its learner, through the serialising queue', () => {
  let world: World;
  before(async () => {
    // Launches wait 1 s for their learner's promotion: a learner that has not booted is not promoted in time.
    world = await startWorld({
      seed: 603,
      clusterSize: 5,
      invocationTimeoutMs: INVOCATION_MS,
      launchWaitMs: 1_000,
      maxAttempts: 10,
      ...timelineFromEnv(),
    });
    assertSettled((await world.bootstrap(3)).problems);
  });
  after(async () => world.close());

  test(
    'is retried after the short retry delay, not the 30-min visibility timeout, and the reconcile queued behind it follows',
    TIMEOUT,
    async () => {
      const queue = new SimulatedFifoQueue({
        visibilityTimeoutMs: VISIBILITY_MS,
        maxReceiveCount: 12,
        region: world.group.region,
        account: world.group.account,
      });
      world.cloud.attachQueue(queue);
      // The new instance boots only after its launch failed once: its learner cannot be promoted before.
      world.group.holdBoots(true);
      const known = world.group.instances().map((i) => i.id);
      await world.scaleTo(4);
      const added = world.group.instances().find((i) => !known.includes(i.id))!.id;
      world.group.emitScheduledEvent();
      const events = world.queue.splice(0).map((q) => q.event as { id: string });
      assert.equal(events.length, 2, 'a launch and a reconcile');
      const [launchId, reconcileId] = events.map(
        (event) => queue.send(JSON.stringify(event), { groupId: GROUP, deduplicationId: event.id }).messageId,
      );

      let failures = 0;
      const from = world.invocations.length;
      await runEventSourceMapping(
        queue,
        async (event) => {
          const response = await world.deliverBatch(event);
          if (response.batchItemFailures.length > 0 && ++failures === 1) world.group.releaseBoot(added);
          return response;
        },
        { pollers: 2 },
      );

      assert.deepEqual(queue.deadLetters, []);
      const launches = queue.receives.filter((r) => r.messageId === launchId);
      const reconciles = queue.receives.filter((r) => r.messageId === reconcileId);
      assert.ok(launches.length >= 2, 'the launch failed at least once and came back');
      assert.equal(reconciles.length, 1);
      // Every failed attempt was given back with the retry delay for its receive count, and SQS accepted it.
      const changes = world.cloud.callsOf('ChangeMessageVisibility');
      assert.deepEqual(
        changes.map((c) => [c.params.VisibilityTimeout, c.error]),
        launches.slice(0, -1).map((r) => [retryDelaySeconds(r.receiveCount), undefined]),
      );
      // On the queue's clock: each redelivery came after its retry delay and long before the visibility timeout.
      for (let i = 1; i < launches.length; i++) {
        const gap = launches[i]!.at - launches[i - 1]!.at;
        assert.ok(gap >= retryDelaySeconds(launches[i - 1]!.receiveCount) * 1000, `redelivery ${i} waited its retry delay`);
        assert.ok(gap < VISIBILITY_MS, `redelivery ${i} came before the visibility timeout (${gap} ms)`);
      }
      // The reconcile queued behind the launch was delivered right after it, well within one visibility timeout.
      assert.ok(reconciles[0]!.at > launches.at(-1)!.at);
      assert.ok(reconciles[0]!.at - launches[0]!.at < VISIBILITY_MS, 'the reconcile did not wait out a visibility timeout');
      const summaries = world.invocations.slice(from).map((b) => b.summary);
      assert.deepEqual(summaries, [...launches.map(() => `launch ${added}`), 'reconcile']);

      const result = await world.settle();
      assertSettled(result.problems);
      assert.equal(result.members.length, 4);
      assert.ok(
        result.members.every((m) => !m.isLearner),
        'the learner was promoted',
      );
    },
  );
});
