import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCapturingTelemetry, createTelemetry } from '../../src/lambda/log.js';

describe('telemetry', () => {
  it('captures decisions, counters and latency in memory', () => {
    const telemetry = createCapturingTelemetry();
    telemetry.appendKeys({ requestId: 'req-1' });
    telemetry.decision({
      trigger: 'launch',
      instanceId: 'i-0123456789abcdef0',
      decision: 'refuse',
      reason: 'no quorum',
      details: { code: 'no-quorum' },
    });
    telemetry.decision({ trigger: 'terminate', decision: 'remove', reason: 'instance terminated' });
    telemetry.count('Removals');
    telemetry.latency('Invocation', 42);
    telemetry.flush();
    assert.deepEqual(telemetry.decisions()[0], {
      requestId: 'req-1',
      trigger: 'launch',
      instanceId: 'i-0123456789abcdef0',
      decision: 'refuse',
      reason: 'no quorum',
      code: 'no-quorum',
    });
    assert.equal(telemetry.total('Decisions'), 2);
    assert.equal(telemetry.total('Refusals'), 1);
    assert.equal(telemetry.total('Removals'), 1);
    assert.deepEqual(telemetry.metrics.get('InvocationLatency'), [42]);
    assert.equal(telemetry.flushes, 1);
  });

  it('forgets appended keys on reset and keeps the invocation context until the next one', () => {
    const telemetry = createCapturingTelemetry();
    telemetry.addContext({ awsRequestId: 'req-1', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' });
    telemetry.appendKeys({ eventId: 'event-1', instanceId: 'i-0123456789abcdef0' });
    telemetry.info('first');
    telemetry.resetKeys();
    telemetry.info('second');
    telemetry.addContext({ awsRequestId: 'req-2', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:f' });
    telemetry.info('third');
    const [first, second, third] = telemetry.logs.map((l) => l.attributes);
    assert.equal(first?.eventId, 'event-1');
    assert.equal(first?.cold_start, true);
    assert.deepEqual([second?.function_request_id, second?.eventId, second?.instanceId], ['req-1', undefined, undefined]);
    assert.deepEqual([third?.function_request_id, third?.cold_start], ['req-2', false]);
  });

  it('buffers Powertools metrics as EMF with the cluster dimension, and stays silent when asked', () => {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    };
    try {
      const telemetry = createTelemetry({ clusterName: 'prod', silent: true });
      telemetry.decision({ trigger: 'reconcile', decision: 'promote', reason: 'learner in sync' });
      telemetry.count('Promotions');
      const emf = telemetry.metrics.serializeMetrics() as unknown as Record<string, unknown>;
      assert.equal(emf.Decisions, 1);
      assert.equal(emf.Promotions, 1);
      assert.equal(emf.cluster, 'prod');
      telemetry.flush();
    } finally {
      process.stdout.write = original;
    }
    assert.deepEqual(writes, [], 'silent telemetry writes nothing');
  });

  it('writes one JSON line per log call when not silent', () => {
    const writes: string[] = [];
    const original = process.stdout.write.bind(process.stdout);
    process.stdout.write = (chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    };
    try {
      const telemetry = createTelemetry({ clusterName: 'prod' });
      telemetry.decision({ trigger: 'launch', instanceId: 'i-0123456789abcdef0', decision: 'join', reason: 'room for one more' });
      telemetry.flush();
    } finally {
      process.stdout.write = original;
    }
    const lines = writes
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const decision = lines.find((l) => l.message === 'decision');
    assert.equal(decision?.decision, 'join');
    assert.equal(decision?.cluster, 'prod');
    assert.equal(decision?.level, 'INFO');
    const emf = lines.find((l) => '_aws' in l);
    assert.equal(emf?.Decisions, 1);
  });
});
