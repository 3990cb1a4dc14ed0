// Member IDs are uint64. The v3 JSON gateway sends them as decimal strings, the discovery registry as
// unpadded lowercase hex. Both conversions go through bigint so IDs above 2^53 survive unchanged.
import type { MemberId } from './types.js';

const MAX_UINT64 = (1n << 64n) - 1n;

export class InvalidMemberIdError extends Error {
  constructor(readonly raw: unknown) {
    super(`invalid etcd member ID ${JSON.stringify(String(raw))}: expected an unsigned 64-bit integer`);
    this.name = 'InvalidMemberIdError';
  }
}

/** Parses a decimal member ID as the v3 gateway sends it ("14177956833228962174"). */
export function parseDecimalMemberId(raw: unknown): MemberId {
  if (typeof raw === 'bigint') return checkRange(raw, raw);
  if (typeof raw !== 'string' || !/^[0-9]{1,20}$/.test(raw)) throw new InvalidMemberIdError(raw);
  return checkRange(BigInt(raw), raw);
}

/** Parses a hex member ID as the discovery registry and etcdctl print it ("c4c3e4f0a1b2d3e4"). */
export function parseHexMemberId(raw: unknown): MemberId {
  if (typeof raw !== 'string' || !/^[0-9a-fA-F]{1,16}$/.test(raw)) throw new InvalidMemberIdError(raw);
  return checkRange(BigInt(`0x${raw}`), raw);
}

/** Unpadded lowercase hex, the form etcd uses for discovery registry keys. */
export function memberIdToHex(id: MemberId): string {
  return id.toString(16);
}

/** Decimal, the form the v3 JSON gateway expects in request bodies. */
export function memberIdToDecimal(id: MemberId): string {
  return id.toString(10);
}

function checkRange(id: bigint, raw: unknown): MemberId {
  if (id <= 0n || id > MAX_UINT64) throw new InvalidMemberIdError(raw);
  return id;
}
