// Pure parsing of the discovery protocol: the discovery URL, the etcd v2 keys answers the service proxies,
// and the `name=peerURL[,name=peerURL...]` registry values. No I/O here, so every path is unit-testable.
//
// Unlike the original tool, nothing here panics or silently defaults: a malformed answer is an
// 'invalid-response' error, and a malformed registry entry (no value, no `=`, no URL) is reported in `problems` and skipped;
// a size that is not a positive integer is an error, never a silent 0.
import * as z from '../zod.js';
import { errorMessage } from '../../core/errors.js';
import { parseHexMemberId } from '../../core/ids.js';
import type { MemberId } from '../../core/types.js';
import { deriveClientURL, parseMemberURL } from '../../core/urls.js';
import { DiscoveryError } from './errors.js';

/** One member that registered itself in the discovery registry. */
export interface RegistryEntry {
  /** The member ID, from the unpadded lowercase hex key. */
  readonly id: MemberId;
  readonly name: string;
  /** Canonical peer URLs (see parseMemberURL), in the order of the value. */
  readonly peerURLs: readonly string[];
  /** etcd's creation index: the first `size` registrants form the cluster. */
  readonly createdIndex: number;
}

/** A registry key that was skipped, and why. */
export interface RegistryProblem {
  /** The key's last path segment (normally a hex member ID), or the full key if it has none. */
  readonly key: string;
  readonly reason: string;
}

export interface Registry {
  /** Good entries, ordered by createdIndex (oldest first), as etcd's own discovery client orders them. */
  readonly entries: readonly RegistryEntry[];
  readonly problems: readonly RegistryProblem[];
}

/** Largest accepted `_config/size`: etcd stores sizes as Go ints; anything larger is certainly garbage. */
export const MAX_DISCOVERY_SIZE = 2 ** 31 - 1;

/** Longest body excerpt quoted in error messages. */
const EXCERPT_LENGTH = 200;

export function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_LENGTH ? `${flat.slice(0, EXCERPT_LENGTH)}…` : flat;
}

/**
 * Validates a discovery URL such as `https://discovery.etcd.io/<token>`: http(s), a host, a token path,
 * no query or fragment (paths are appended to it). Trailing slashes are removed; the rest is kept as given,
 * because the same text is handed to etcd's `--discovery`.
 */
export function parseDiscoveryURL(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw new DiscoveryError('invalid-url', `invalid discovery URL ${JSON.stringify(raw)}: not a URL`);
  }
  const fail = (reason: string): never => {
    throw new DiscoveryError('invalid-url', `invalid discovery URL ${JSON.stringify(raw)}: ${reason}`);
  };
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail('scheme must be http or https');
  if (url.hostname === '') fail('missing host');
  if (url.search !== '' || url.hash !== '') fail('a query or fragment is not allowed');
  if (url.pathname === '/' || url.pathname === '') fail('missing the token path (e.g. https://discovery.etcd.io/<token>)');
  return trimmed;
}

const keysErrorSchema = z.object({ errorCode: z.number(), message: z.string(), cause: z.optional(z.string()) });

/** The etcd v2 keys error body (`{"errorCode":100,"message":"Key not found","cause":"/_etcd/..."}`), if it is one. */
export function parseKeysError(body: string): z.infer<typeof keysErrorSchema> | undefined {
  const parsed = keysErrorSchema.safeParse(parseJSON(body));
  return parsed.success ? parsed.data : undefined;
}

const registryResponseSchema = z.object({
  node: z.object({
    key: z.string(),
    dir: z.literal(true, { error: 'the discovery URL names a key, not a registry directory' }),
    // Children are validated one by one below, so that one bad child is a problem, not a failed read.
    nodes: z.optional(z.array(z.unknown())),
  }),
});

const registryChildSchema = z.object({
  key: z.string(),
  dir: z.optional(z.boolean()),
  value: z.optional(z.string()),
  createdIndex: z.number().check(z.int(), z.nonnegative()),
});

/** Parses the body of `GET <discovery URL>`; throws 'invalid-response' only if the whole answer is unusable. */
export function parseRegistryResponse(body: string, url: string): Registry {
  const parsed = registryResponseSchema.safeParse(parseJSON(body));
  if (!parsed.success) throw invalidResponse(url, body, z.prettifyError(parsed.error));

  const entries: RegistryEntry[] = [];
  const problems: RegistryProblem[] = [];
  const seen = new Set<MemberId>();
  for (const raw of parsed.data.node.nodes ?? []) {
    const child = registryChildSchema.safeParse(raw);
    if (!child.success) {
      problems.push({ key: keyOfUnknown(raw), reason: `malformed registry node: ${z.prettifyError(child.error)}` });
      continue;
    }
    const { key: fullKey, dir, value, createdIndex } = child.data;
    const key = lastSegment(fullKey);
    // Hidden keys (`_config` holds the size) are not member registrations; etcd itself skips them too.
    if (key.startsWith('_')) continue;
    let id: MemberId;
    try {
      id = parseHexMemberId(key);
    } catch {
      problems.push({ key, reason: 'key is not a hex member ID' });
      continue;
    }
    if (dir === true) {
      problems.push({ key, reason: 'is a directory, not a registration' });
      continue;
    }
    if (value === undefined || value.trim() === '') {
      problems.push({ key, reason: 'has no value' });
      continue;
    }
    if (seen.has(id)) {
      problems.push({ key, reason: 'duplicate member ID' });
      continue;
    }
    const member = parseRegistryValue(value);
    if (!member.ok) {
      problems.push({ key, reason: member.reason });
      continue;
    }
    seen.add(id);
    entries.push({ id, name: member.name, peerURLs: member.peerURLs, createdIndex });
  }
  entries.sort((a, b) => a.createdIndex - b.createdIndex);
  return { entries, problems };
}

export type ParsedRegistryValue =
  { readonly ok: true; readonly name: string; readonly peerURLs: readonly string[] } | { readonly ok: false; readonly reason: string };

/** Parses `name=peerURL[,name=peerURL...]`: one non-empty name shared by every piece, valid member URLs. */
export function parseRegistryValue(value: string): ParsedRegistryValue {
  const pieces = value.split(',').map((p) => p.trim());
  let name: string | undefined;
  const peerURLs: string[] = [];
  for (const piece of pieces) {
    const eq = piece.indexOf('=');
    if (eq < 0) return { ok: false, reason: `${JSON.stringify(piece)} is not name=peerURL` };
    const pieceName = piece.slice(0, eq);
    if (pieceName === '') return { ok: false, reason: `${JSON.stringify(piece)} has an empty name` };
    if (name !== undefined && pieceName !== name) {
      return { ok: false, reason: `different names in ${JSON.stringify(value)}` };
    }
    name = pieceName;
    let peerURL: string;
    try {
      peerURL = parseMemberURL(piece.slice(eq + 1));
    } catch (err) {
      return { ok: false, reason: errorMessage(err) };
    }
    if (!peerURLs.includes(peerURL)) peerURLs.push(peerURL);
  }
  // split() always yields at least one piece, so name is set here; the check keeps the type honest.
  if (name === undefined) return { ok: false, reason: 'empty value' };
  return { ok: true, name, peerURLs };
}

/** Renders the value `register` stores: `name=u1,name=u2` (every URL; the original registered only the first). */
export function formatRegistryValue(name: string, peerURLs: readonly string[]): string {
  return peerURLs.map((u) => `${name}=${u}`).join(',');
}

const sizeResponseSchema = z.object({ node: z.object({ value: z.string() }) });

/** Parses the body of `GET <discovery URL>/_config/size`: a positive integer, never a silent 0. */
export function parseSizeResponse(body: string, url: string): number {
  const parsed = sizeResponseSchema.safeParse(parseJSON(body));
  if (!parsed.success) throw invalidResponse(url, body, z.prettifyError(parsed.error));
  const text = parsed.data.node.value.trim();
  const size = /^[0-9]{1,10}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(size) || size < 1 || size > MAX_DISCOVERY_SIZE) {
    throw invalidResponse(
      url,
      body,
      `cluster size ${JSON.stringify(parsed.data.node.value)} is not an integer from 1 to ${MAX_DISCOVERY_SIZE}`,
    );
  }
  return size;
}

/** The first `size` registrants by creation order: the members a discovery bootstrap forms the cluster from. */
export function bootstrapEntries(registry: Registry, size: number): readonly RegistryEntry[] {
  return registry.entries.slice(0, size);
}

/**
 * Client endpoints for registry entries: each peer URL's host with `clientPort` (see deriveClientURL;
 * IPv6 literals work). Duplicates are dropped, order follows the entries.
 */
export function deriveClientEndpoints(entries: readonly RegistryEntry[], clientPort: number): string[] {
  const endpoints: string[] = [];
  for (const entry of entries) {
    for (const peerURL of entry.peerURLs) {
      const endpoint = deriveClientURL(peerURL, clientPort);
      if (!endpoints.includes(endpoint)) endpoints.push(endpoint);
    }
  }
  return endpoints;
}

function parseJSON(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function invalidResponse(url: string, body: string, reason: string): DiscoveryError {
  return new DiscoveryError('invalid-response', `invalid answer from ${url}: ${reason.replace(/\s+/g, ' ')} (body: ${excerpt(body)})`, {
    url,
  });
}

function lastSegment(key: string): string {
  const trimmed = key.replace(/\/+$/, '');
  const slash = trimmed.lastIndexOf('/');
  return slash >= 0 ? trimmed.slice(slash + 1) : trimmed;
}

function keyOfUnknown(raw: unknown): string {
  if (typeof raw === 'object' && raw !== null && 'key' in raw && typeof raw.key === 'string') return lastSegment(raw.key);
  return '(no key)';
}
