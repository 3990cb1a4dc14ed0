// Pure URL handling for etcd peer and client URLs: validation, comparison and client-URL derivation.
// Uses WHATWG URL parsing (not string splitting), so IPv6 literals such as http://[fd00::1]:2380 work.

export class InvalidURLError extends Error {
  constructor(
    readonly raw: string,
    reason: string,
  ) {
    super(`invalid URL ${JSON.stringify(raw)}: ${reason}`);
    this.name = 'InvalidURLError';
  }
}

/**
 * Validates an etcd member URL the way etcd does: http or https, an explicit host and port, no path,
 * query or credentials. Returns it in canonical form (lowercase scheme and host, no trailing slash).
 */
export function parseMemberURL(raw: string): string {
  const trimmed = raw.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new InvalidURLError(raw, 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidURLError(raw, 'scheme must be http or https');
  // Stryker disable next-line ConditionalExpression: WHATWG URL already rejects an http(s) URL without a host; kept as the rule etcd states
  if (url.hostname === '') throw new InvalidURLError(raw, 'missing host');
  if (url.username !== '' || url.password !== '') throw new InvalidURLError(raw, 'credentials are not allowed');
  if (url.pathname !== '/') throw new InvalidURLError(raw, 'a path is not allowed');
  if (url.search !== '' || url.hash !== '') throw new InvalidURLError(raw, 'a query or fragment is not allowed');
  // WHATWG drops the default port (80/443); etcd requires an explicit one, so demand it in the raw text.
  if (!hasExplicitPort(trimmed)) throw new InvalidURLError(raw, 'an explicit port is required (e.g. :2380)');
  const port = url.port === '' ? (url.protocol === 'http:' ? '80' : '443') : url.port;
  return `${url.protocol}//${url.hostname}:${port}`;
}

/** Parses a comma-separated list of member URLs; rejects an empty list and duplicates. */
export function parseMemberURLList(raw: string): string[] {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) throw new InvalidURLError(raw, 'at least one URL is required');
  const urls = parts.map(parseMemberURL);
  if (new Set(urls).size !== urls.length) throw new InvalidURLError(raw, 'duplicate URLs');
  return urls;
}

/** Canonical form for comparisons; a URL that does not parse compares by its trimmed text. */
export function canonicalURL(raw: string): string {
  try {
    return parseMemberURL(raw);
  } catch {
    return raw.trim();
  }
}

/** True when both lists name the same set of URLs (order and spelling aside). */
export function sameURLSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a.map(canonicalURL));
  const sb = new Set(b.map(canonicalURL));
  return sa.size === sb.size && [...sa].every((u) => sb.has(u));
}

/** True when the lists share at least one URL. */
export function urlsOverlap(a: readonly string[], b: readonly string[]): boolean {
  const sb = new Set(b.map(canonicalURL));
  return a.some((u) => sb.has(canonicalURL(u)));
}

/**
 * The client URL of a peer, assuming every member serves clients on `clientPort` of its peer host with
 * the peer URL's scheme (the discovery registry only knows peer URLs).
 */
export function deriveClientURL(peerURL: string, clientPort: number): string {
  const url = new URL(parseMemberURL(peerURL));
  return `${url.protocol}//${url.hostname}:${clientPort}`;
}

/** The host part of a member URL (IPv6 without brackets), e.g. for matching a member to a machine. */
export function hostOf(memberURL: string): string {
  const host = new URL(parseMemberURL(memberURL)).hostname;
  return host.startsWith('[') ? host.slice(1, -1) : host;
}

function hasExplicitPort(raw: string): boolean {
  // Stryker disable next-line Regex: the text parsed as an http(s) URL, so the first scheme match is at its start anyway
  const afterScheme = raw.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//, '');
  const authority = afterScheme.split(/[/?#]/, 1)[0] ?? '';
  // Stryker disable next-line MethodExpression: dropping the prefix up to `@` changes neither test below (one looks at the end of the text, the other needs the whole text bracketed, which an `@` prefix rules out either way)
  const hostPort = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  // Stryker disable next-line Regex: the two tests guard each other: text ending in `:digits` never ends in `]`, and text with `:digits` inside that does not end in them is a bracketed IPv6 host, which the second test catches
  return /:[0-9]+$/.test(hostPort) && !/^\[[^\]]*\]$/.test(hostPort);
}
