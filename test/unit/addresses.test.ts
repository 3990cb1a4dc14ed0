import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateAddresses, releaseAddresses } from '../harness/addresses.js';

test('allocated loopback addresses are distinct and reusable after release', async () => {
  const first = await allocateAddresses(3);
  assert.equal(new Set(first).size, 3);
  for (const ip of first) assert.match(ip, /^127\.0\.\d+\.\d+$/);
  const second = await allocateAddresses(2);
  assert.equal(second.filter((ip) => first.includes(ip)).length, 0, 'held addresses are not handed out twice');
  releaseAddresses([...first, ...second]);
});
