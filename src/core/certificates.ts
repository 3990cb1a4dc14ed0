// Certificate policy, pure: how long certificates live, when they are due for renewal, which names a member's
// certificate must carry. The PKI adapter (src/adapters/pki) makes and checks the certificates themselves.

/** Lifetime of the per-cluster CA: long, because replacing it means re-issuing every certificate at once. */
export const CA_VALIDITY_DAYS = 3650;
/** Lifetime of member (server/peer) and client certificates: short, renewed by the reconcile pass. */
export const LEAF_VALIDITY_DAYS = 30;
/** A certificate is renewed once this fraction of its lifetime has passed. */
export const DEFAULT_RENEW_AT_FRACTION = 2 / 3;
/** notBefore is set this far in the past, so a peer whose clock is a little behind accepts a fresh certificate. */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60_000;

const DAY_MS = 86_400_000;

export interface ValidityWindow {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** The validity window of a certificate issued at `now` for `days` days. */
export function validityWindow(now: Date, days: number): ValidityWindow {
  if (!Number.isFinite(days) || days <= 0) throw new RangeError(`a certificate lifetime must be a positive number of days, got ${days}`);
  return { notBefore: new Date(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS), notAfter: new Date(now.getTime() + days * DAY_MS) };
}

/**
 * Whether a certificate valid for `window` should be re-issued at `now`: once `fraction` (0 < f <= 1) of its
 * lifetime has passed, or when it is not (or not yet) valid at all.
 */
export function isRenewalDue(window: ValidityWindow, now: Date, fraction = DEFAULT_RENEW_AT_FRACTION): boolean {
  if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`the renewal fraction must be in (0, 1], got ${fraction}`);
  const start = window.notBefore.getTime();
  const end = window.notAfter.getTime();
  const t = now.getTime();
  // Past notAfter the last test holds too (fraction <= 1), so only "not yet valid" needs its own test.
  if (t < start) return true;
  return t >= start + (end - start) * fraction;
}

/** The names a member's certificate carries: its IP addresses and DNS names, deduplicated, empty ones left out. */
export interface SubjectNames {
  readonly ips: readonly string[];
  readonly dnsNames: readonly string[];
}

/** The names in `required` that `actual` lacks, as "IP 10.0.0.1" / "DNS ip-10-0-0-1.ec2.internal" labels. */
export function missingSubjectNames(required: SubjectNames, actual: SubjectNames): string[] {
  const dns = new Set(actual.dnsNames.map((n) => n.toLowerCase()));
  const ips = new Set(actual.ips);
  return [
    ...required.ips.filter((ip) => !ips.has(ip)).map((ip) => `IP ${ip}`),
    ...required.dnsNames.filter((n) => !dns.has(n.toLowerCase())).map((n) => `DNS ${n}`),
  ];
}
