// A cluster version below 3.4 is no decided version, whatever its minor number: 2.4.0 is as undecided as 2.3.0.
// (The mutation run showed that only the major number of such a version was ever tried.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkVersionSkew } from '../../src/core/version.js';

test('a 2.x cluster version, even 2.4, is no decided version: the answer is unknown, not a skew refusal', () => {
  assert.equal(checkVersionSkew({ major: 3, minor: 4, patch: 0 }, '2.4.0').kind, 'unknown');
  assert.equal(checkVersionSkew({ major: 3, minor: 4, patch: 0 }, '2.5.1').kind, 'unknown');
  assert.deepEqual(checkVersionSkew({ major: 3, minor: 5, patch: 0 }, '2.4.0', '3.5.2'), { kind: 'ok' }, 'the answering member stands in');
});
