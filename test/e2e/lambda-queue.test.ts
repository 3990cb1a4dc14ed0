// The serialising queue (contract 1, review D13): EventBridge events go into one SQS FIFO queue with a single
// message group, polled by the Lambda event source mapping. With several pollers running at once, no two
// invocations (so no two membership changes) ever overlap; a failed record comes back after its visibility
// timeout; a duplicate event within 5 minutes is delivered once. Delivered directly and concurrently (the old
// path, serialised only by a reserved concurrency of 1), the same events do overlap: that is what the queue
// prevents without a reservation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runEventSourceMapping, SimulatedFifoQueue } from '../sim/fifo.js';
import { startWorld, timelineFromEnv, type World } from '../sim/world.js';

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
    if (next.start < prev.end) found.push(`${prev.summary} [${prev.start}-${prev.end}] overlaps ${next.summary} [${next.start}-${next.end}]`);
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

  test('concurrent pollers: membership changes never overlap, a failed record is redelivered, a duplicate is delivered once', TIMEOUT, async () => {
    const queue = new SimulatedFifoQueue({ visibilityTimeoutMs: VISIBILITY_MS, maxReceiveCount: 5 });
    await world.scaleTo(5);
    world.group.emitScheduledEvent();
    const events = world.queue.splice(0).map((q) => q.event as { id: string });
    assert.equal(events.length, 3, 'two launches and a reconcile');
    for (const event of events) assert.equal(queue.send(JSON.stringify(event), { groupId: GROUP, deduplicationId: event.id }).duplicate, false);
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
    const [firstLaunch, secondLaunch] = events.slice(0, 2).map((e) => `launch ${(e as unknown as { detail: { EC2InstanceId: string } }).detail.EC2InstanceId}`);
    assert.deepEqual(batches.map((b) => b.summary), [firstLaunch, firstLaunch, secondLaunch, 'reconcile']);

    const result = await world.settle();
    assertSettled(result.problems);
    assert.equal(result.members.length, 5);
    assert.equal(await world.get('/e2e/queue'), 'kept');
  });

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
