// Validation of the identifiers that end up in AWS resource names. SSM parameter paths are built only
// from values that passed these checks, so an event carrying "../" or "/other-cluster" cannot reach
// another cluster's parameters.

export type IdentifierKind = 'cluster-name' | 'parameter-prefix' | 'instance-id' | 'group-name' | 'hook-name';

export class InvalidIdentifierError extends Error {
  constructor(
    readonly kind: IdentifierKind,
    readonly raw: unknown,
    expected: string,
  ) {
    super(`invalid ${kind} ${JSON.stringify(String(raw))}: expected ${expected}`);
    this.name = 'InvalidIdentifierError';
  }
}

const SEGMENT = /^[A-Za-z0-9_.-]{1,64}$/;
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
// Auto Scaling group and hook names: 1-255 printable characters; we also refuse whitespace at the ends.
const GROUP_NAME = /^[^\s\p{Cc}](?:[^\p{Cc}]{0,253}[^\s\p{Cc}])?$/u;
const HOOK_NAME = /^[A-Za-z0-9_/-]{1,255}$/;

/** A cluster name: 1-64 of `[A-Za-z0-9_.-]`, and not "." or ".." (they would read as path steps). */
export function validateClusterName(raw: unknown): string {
  if (typeof raw !== 'string' || !SEGMENT.test(raw) || raw === '.' || raw === '..') {
    throw new InvalidIdentifierError('cluster-name', raw, '1-64 characters of A-Z a-z 0-9 _ . -');
  }
  return raw;
}

/**
 * A parameter prefix: `/`-separated segments of the cluster-name alphabet, starting with `/`
 * (e.g. `/elastic-etcd` or `/team/etcd`). A trailing `/` is dropped. Returned without the trailing slash.
 */
export function validateParameterPrefix(raw: unknown): string {
  const expected = 'a path like /elastic-etcd: "/"-separated segments of A-Z a-z 0-9 _ . -';
  if (typeof raw !== 'string' || !raw.startsWith('/')) throw new InvalidIdentifierError('parameter-prefix', raw, expected);
  const trimmed = raw.length > 1 && raw.endsWith('/') ? raw.slice(0, -1) : raw;
  const segments = trimmed.slice(1).split('/');
  if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..') || trimmed.length > 512) {
    throw new InvalidIdentifierError('parameter-prefix', raw, expected);
  }
  return trimmed;
}

/** An EC2 instance ID such as `i-0123456789abcdef0`. */
export function validateInstanceId(raw: unknown): string {
  if (typeof raw !== 'string' || !INSTANCE_ID.test(raw)) {
    throw new InvalidIdentifierError('instance-id', raw, 'an EC2 instance ID like i-0123456789abcdef0');
  }
  return raw;
}

export function isInstanceId(raw: unknown): raw is string {
  return typeof raw === 'string' && INSTANCE_ID.test(raw);
}

export function validateGroupName(raw: unknown): string {
  if (typeof raw !== 'string' || !GROUP_NAME.test(raw)) {
    throw new InvalidIdentifierError('group-name', raw, 'an Auto Scaling group name (1-255 printable characters)');
  }
  return raw;
}

export function validateHookName(raw: unknown): string {
  if (typeof raw !== 'string' || !HOOK_NAME.test(raw)) {
    throw new InvalidIdentifierError('hook-name', raw, 'a lifecycle hook name (1-255 of A-Z a-z 0-9 _ - /)');
  }
  return raw;
}
