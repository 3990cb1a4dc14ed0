// The simulated Auto Scaling group's model on its own (no HTTP): capacity, lifecycle actions, callbacks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedGroup, SimValidationError } from '../sim/group.js';
import type { EventBridgeEvent } from '../sim/events.js';
import { FIFO_DEDUPLICATION_MS, SimulatedFifoQueue } from '../sim/fifo.js';

function makeGroup(options: { launchHook?: string | null; terminateHook?: string | null; healthCheckGracePeriodSeconds?: number } = {}) {
  let n = 0;
  let tick = 0;
  const released: string[] = [];
  const booted: string[] = [];
  const shutDown: string[] = [];
  const group = new SimulatedGroup({
    seed: 3,
    ...options,
    allocateIp: () => Promise.resolve(`127.0.98.${++n}`),
    releaseIp: (ip) => void released.push(ip),
    onBoot: (i) => void booted.push(i.id),
    onShutdown: (i) => void shutDown.push(i.id),
    clock: () => new Date(1_700_000_000_000 + ++tick * 1000),
  });
  const events: EventBridgeEvent[] = [];
  group.subscribe((e) => events.push(e));
  return { group, events, released, booted, shutDown };
}

const detail = (e: EventBridgeEvent | undefined) => e?.detail as Record<string, string> | undefined;

describe('SimulatedGroup', () => {
  it('scales in newest first, and only after the terminate action completes is the instance gone', async () => {
    const { group, events, released, shutDown } = makeGroup();
    await group.setDesired(3);
    for (const i of group.instances())
      await group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-launch', instanceId: i.id, result: 'CONTINUE' });
    const newest = group.instances()[2];
    assert.ok(newest);
    await group.setDesired(2);
    assert.equal(group.instance(newest.id)?.lifecycleState, 'Terminating:Wait');
    assert.equal(detail(events.at(-1))?.LifecycleTransition, 'autoscaling:EC2_INSTANCE_TERMINATING');
    assert.deepEqual(shutDown, []);
    await group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-terminate', instanceId: newest.id, result: 'ABANDON' });
    await group.idle();
    assert.equal(group.instance(newest.id)?.lifecycleState, 'Terminated');
    assert.deepEqual(shutDown, [newest.id]);
    assert.deepEqual(released, [newest.privateIp]);
    assert.equal(group.instances().length, 2);
  });

  it('replaces an unhealthy instance while it drains', async () => {
    const { group, events } = makeGroup();
    await group.setDesired(1);
    const [first] = group.instances();
    assert.ok(first);
    await group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-launch', instanceId: first.id, result: 'CONTINUE' });
    await group.terminate(first.id, { replace: true });
    assert.equal(group.desiredCapacity, 1);
    assert.deepEqual(
      events.slice(-2).map((e) => e['detail-type']),
      ['EC2 Instance-terminate Lifecycle Action', 'EC2 Instance-launch Lifecycle Action'],
    );
    assert.equal(group.instances().filter((i) => i.lifecycleState === 'Pending:Wait').length, 1);
  });

  it('an expired launch action is abandoned and replaced', async () => {
    const { group } = makeGroup();
    await group.setDesired(1);
    const [first] = group.instances();
    assert.ok(first);
    await group.expireLifecycleAction(first.id);
    assert.equal(group.instance(first.id)?.lifecycleState, 'Terminated');
    assert.equal(group.instances().length, 1);
    assert.notEqual(group.instances()[0]?.id, first.id);
  });

  it('answers "No active Lifecycle Action found" for a finished action or a wrong token', async () => {
    const { group } = makeGroup();
    const instance = await group.launch();
    const action = group.pendingAction(instance.id);
    assert.ok(action);
    const wrongToken = group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-launch', token: 'nope', result: 'CONTINUE' });
    await assert.rejects(
      wrongToken,
      (err: unknown) => err instanceof SimValidationError && /No active Lifecycle Action found with token nope/.test(err.message),
    );
    await group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-launch', token: action.token, result: 'CONTINUE' });
    await assert.rejects(
      group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-launch', instanceId: instance.id, result: 'CONTINUE' }),
      /No active Lifecycle Action found with instance ID/,
    );
  });

  it('without hooks, instances go straight into service and out of it', async () => {
    const { group, events, shutDown } = makeGroup({ launchHook: null, terminateHook: null });
    const instance = await group.launch();
    assert.equal(instance.lifecycleState, 'InService');
    await group.terminate(instance.id);
    await group.idle();
    assert.equal(events.length, 0);
    assert.deepEqual(shutDown, [instance.id]);
  });

  it('boots every launched instance, and reports a failed boot callback', async () => {
    const { group, booted } = makeGroup();
    await group.setDesired(2);
    await group.idle();
    assert.deepEqual(
      booted,
      group.instances().map((i) => i.id),
    );
    const failing = new SimulatedGroup({
      seed: 1,
      allocateIp: () => Promise.resolve('127.0.98.200'),
      releaseIp: () => undefined,
      onBoot: () => Promise.reject(new Error('etcd did not start')),
    });
    await failing.launch();
    await assert.rejects(failing.idle(), /etcd did not start/);
  });

  it('emits the scheduled event and builds the test notification', () => {
    const { group, events } = makeGroup();
    const scheduled = group.emitScheduledEvent();
    assert.equal(events.at(-1), scheduled);
    assert.equal(scheduled.source, 'aws.events');
    assert.equal(group.testNotification().Event, 'autoscaling:TEST_NOTIFICATION');
  });

  it('SetInstanceHealth Unhealthy: the instance is terminated through the hook and replaced; the grace period is honoured unless told not to', async () => {
    const { group, events } = makeGroup({ healthCheckGracePeriodSeconds: 300 });
    await group.setDesired(2);
    for (const i of group.instances())
      await group.completeLifecycleAction({ groupName: group.name, hookName: 'etcd-launch', instanceId: i.id, result: 'CONTINUE' });
    const [sick] = group.instances();
    assert.ok(sick);
    // Within the grace period (the simulated clock moves a second per call), a respecting call changes nothing.
    await group.setInstanceHealth(sick.id, 'Unhealthy');
    assert.equal(group.instance(sick.id)?.lifecycleState, 'InService');
    assert.equal(group.instance(sick.id)?.healthStatus, 'Healthy');
    const before = events.length;
    await group.setInstanceHealth(sick.id, 'Unhealthy', false);
    assert.equal(group.instance(sick.id)?.lifecycleState, 'Terminating:Wait');
    assert.equal(group.instance(sick.id)?.healthStatus, 'Unhealthy');
    assert.equal(group.desiredCapacity, 2, 'a replacement, not a scale-in');
    assert.deepEqual(
      events.slice(before).map((e) => detail(e)?.LifecycleTransition),
      ['autoscaling:EC2_INSTANCE_TERMINATING', 'autoscaling:EC2_INSTANCE_LAUNCHING'],
    );
    // Again while terminating: nothing more happens.
    await group.setInstanceHealth(sick.id, 'Unhealthy', false);
    assert.equal(events.length, before + 2);
    await assert.rejects(group.setInstanceHealth('i-0000000000000000f', 'Unhealthy', false), SimValidationError);
  });
});

describe('SimulatedFifoQueue (the serialising queue model)', () => {
  it('hands out one message of a group at a time, in order; a failed one comes back after its visibility timeout, then goes to the dead-letter queue', () => {
    const queue = new SimulatedFifoQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 2 });
    queue.send('first', { groupId: 'g', deduplicationId: 'a' });
    queue.send('second', { groupId: 'g', deduplicationId: 'b' });
    const first = queue.receive();
    assert.equal(first?.body, 'first');
    assert.equal(queue.receive(), undefined, 'the group is blocked while its head is in flight');
    assert.equal(queue.blockedReceives, 1);
    queue.skipToNextVisible(); // the first attempt failed: not deleted
    const again = queue.receive();
    assert.equal(again?.body, 'first', 'redelivered, still before the second');
    assert.equal(again?.receiveCount, 2);
    queue.skipToNextVisible();
    // Its receives are used up: redrive to the dead-letter queue, and the group moves on.
    assert.equal(queue.receive()?.body, 'second');
    assert.deepEqual(
      queue.deadLetters.map((m) => m.body),
      ['first'],
    );
  });

  it('a deleted message frees the group; a deduplication ID is accepted once within 5 minutes', () => {
    const queue = new SimulatedFifoQueue({ visibilityTimeoutMs: 60_000, maxReceiveCount: 5 });
    const sent = queue.send('x', { groupId: 'g', deduplicationId: 'event-1' });
    assert.deepEqual(queue.send('x', { groupId: 'g', deduplicationId: 'event-1' }), { messageId: sent.messageId, duplicate: true });
    assert.equal(queue.depth, 1);
    const message = queue.receive()!;
    queue.delete(message.receiptHandle!);
    assert.equal(queue.depth, 0);
    queue.skip(FIFO_DEDUPLICATION_MS);
    assert.equal(queue.send('x', { groupId: 'g', deduplicationId: 'event-1' }).duplicate, false, 'after 5 minutes it is a new message');
  });
});
