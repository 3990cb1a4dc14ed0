// The alarm list as the JSON gateway answers it (Maintenance Alarm, action GET), parsed by the etcd adapter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alarmListSchema, parseWire, toAlarms } from '../../src/adapters/etcd/wire.js';

const parse = (body: unknown) => toAlarms(parseWire(alarmListSchema, body, 'alarm list'));

test('alarm list: none, NOSPACE and CORRUPT with exact 64-bit member IDs, NONE dropped', () => {
  // The gateway leaves out empty lists and zero values: no alarms is a header and nothing else.
  assert.deepEqual(parse({ header: { cluster_id: '1', member_id: '2', revision: '3', raft_term: '4' } }), []);
  assert.deepEqual(
    parse({
      alarms: [
        { memberID: '14177956833228962174', alarm: 'NOSPACE' },
        { memberID: '9', alarm: 'CORRUPT' },
        { memberID: '10', alarm: 'NONE' },
        { memberID: '11' },
      ],
    }),
    [
      { memberId: 14177956833228962174n, alarm: 'NOSPACE' },
      { memberId: 9n, alarm: 'CORRUPT' },
    ],
  );
});

test('alarm list: a malformed answer is an invalid-response error naming the field', () => {
  assert.throws(
    () => parse({ alarms: [{ memberID: 12, alarm: 'NOSPACE' }] }),
    (err: Error & { code?: string }) => err.code === 'invalid-response' && /alarms\.0\.memberID/.test(err.message),
  );
});
