// The HTTP side of the discovery protocol (discovery.etcd.io proxies an etcd v2 keys directory per token).
// Thin on purpose: one request per call (plus one read-back when a registration already exists), a bounded
// timeout, no retries (callers decide), and every outcome mapped to a DiscoveryError code.
import axios, { type AxiosInstance, type Method } from 'axios';
import { errorMessage } from '../../core/errors.js';
import { memberIdToHex } from '../../core/ids.js';
import type { MemberId } from '../../core/types.js';
import { parseMemberURL, sameURLSet } from '../../core/urls.js';
import { DiscoveryError } from './errors.js';
import {
  excerpt,
  formatRegistryValue,
  parseDiscoveryURL,
  parseKeysError,
  parseRegistryResponse,
  parseRegistryValue,
  parseSizeResponse,
  type Registry,
} from './parse.js';

export interface DiscoveryRequestOptions {
  /** Upper bound for the whole request, connect to last byte (default 10 s). */
  readonly timeoutMs?: number;
  /** Aborts the request; the error then has code 'aborted'. */
  readonly signal?: AbortSignal;
  /** The axios instance to use (default: axios itself, which honours the usual proxy variables). */
  readonly http?: AxiosInstance;
}

export const DEFAULT_DISCOVERY_TIMEOUT_MS = 10_000;
/** Registries are tiny; anything this large is not a discovery answer. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Statuses that mean "the service (or what it proxies to) is down right now", worth a retry by the caller. */
const UNAVAILABLE_STATUSES = new Set([502, 503, 504]);
/** etcd v2 keys API: `prevExist=false` on an existing key. */
const KEY_EXISTS_STATUS = 412;

export type RegisterOutcome = 'created' | 'already-registered';
export type DeregisterOutcome = 'deleted' | 'already-gone';

/** Reads every registration under the token, ordered by creation; malformed entries land in `problems`. */
export async function readRegistry(discoveryURL: string, options: DiscoveryRequestOptions = {}): Promise<Registry> {
  const url = parseDiscoveryURL(discoveryURL);
  const res = await send('GET', url, options);
  if (res.status === 200) return parseRegistryResponse(res.body, url);
  if (res.status === 404) throw notFound(`discovery token not found: GET ${url} answered 404`, res, url);
  throw statusError('GET', url, res);
}

/** Reads the expected cluster size from `<url>/_config/size`: a positive integer or an error, never 0. */
export async function readSize(discoveryURL: string, options: DiscoveryRequestOptions = {}): Promise<number> {
  const url = `${parseDiscoveryURL(discoveryURL)}/_config/size`;
  const res = await send('GET', url, options);
  if (res.status === 200) return parseSizeResponse(res.body, url);
  if (res.status === 404) throw notFound(`discovery token or its size not found: GET ${url} answered 404`, res, url);
  throw statusError('GET', url, res);
}

/**
 * Registers a member as `name=u1,name=u2` under its hex ID, never overwriting (`prevExist=false`).
 * An existing key with the same name and peer URLs is success ('already-registered'), so a re-run is safe;
 * with anything else it is a 'conflict' error.
 *
 * The service creates an unknown token's directory on the fly, so callers should read the registry or the
 * size first to catch a mistyped token.
 */
export async function register(
  discoveryURL: string,
  id: MemberId,
  name: string,
  peerURLs: readonly string[],
  options: DiscoveryRequestOptions = {},
): Promise<RegisterOutcome> {
  const base = parseDiscoveryURL(discoveryURL);
  const keyURL = `${base}/${checkedHexId(id)}`;
  const canonicalURLs = checkedPeerURLs(peerURLs);
  const value = formatRegistryValue(checkedName(name), canonicalURLs);

  const res = await send('PUT', `${keyURL}?prevExist=false`, options, new URLSearchParams({ value }).toString());
  if (res.status === 201 || res.status === 200) return 'created';
  if (res.status !== KEY_EXISTS_STATUS) throw statusError('PUT', keyURL, res);

  // The key exists: fine if it says exactly what we would have written (an earlier run of ours).
  const existing = await send('GET', keyURL, options);
  if (existing.status === 404) {
    throw new DiscoveryError('conflict', `registration ${keyURL} existed but was deleted meanwhile: changed concurrently`, {
      url: keyURL,
      status: 404,
    });
  }
  if (existing.status !== 200) throw statusError('GET', keyURL, existing);
  const existingValue = parseKeyValue(existing.body);
  if (existingValue === undefined) {
    throw new DiscoveryError('invalid-response', `invalid answer from ${keyURL}: no node.value (body: ${excerpt(existing.body)})`, {
      url: keyURL,
    });
  }
  const parsed = parseRegistryValue(existingValue);
  if (parsed.ok && parsed.name === name && sameURLSet(parsed.peerURLs, canonicalURLs)) return 'already-registered';
  throw new DiscoveryError(
    'conflict',
    `member ${memberIdToHex(id)} is already registered at ${keyURL} as ${JSON.stringify(existingValue)}, not ${JSON.stringify(value)}`,
    { url: keyURL, status: KEY_EXISTS_STATUS },
  );
}

/** Removes a member's registration; a key that is already gone is success ('already-gone'). */
export async function deregister(discoveryURL: string, id: MemberId, options: DiscoveryRequestOptions = {}): Promise<DeregisterOutcome> {
  const base = parseDiscoveryURL(discoveryURL);
  const hexId = checkedHexId(id);
  const keyURL = `${base}/${hexId}`;
  const res = await send('DELETE', keyURL, options);
  if (res.status === 200 || res.status === 204) return 'deleted';
  if (res.status === 404) {
    // etcd names the missing key in `cause`: if that is not our key, the token itself is unknown (a typo,
    // or an expired token), which must not pass as a successful deregistration.
    const cause = parseKeysError(res.body)?.cause;
    if (cause !== undefined && !cause.replace(/\/+$/, '').endsWith(`/${hexId}`)) {
      throw notFound(`discovery token not found: DELETE ${keyURL} answered 404 for ${cause}`, res, keyURL);
    }
    return 'already-gone';
  }
  throw statusError('DELETE', keyURL, res);
}

interface RawResponse {
  readonly status: number;
  readonly body: string;
}

async function send(method: Method, url: string, options: DiscoveryRequestOptions, formBody?: string): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
  if (options.signal?.aborted)
    throw new DiscoveryError('aborted', `${method} ${url} aborted before it was sent`, { url, cause: options.signal.reason });
  // A whole-request deadline: axios' own `timeout` is an idle-socket timer, which a trickling or half-dead
  // server (e.g. a SIGSTOPped etcd behind the service) can keep from firing.
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]);
  const http = options.http ?? axios;
  try {
    const res = await http.request<unknown>({
      method,
      url,
      data: formBody,
      headers: {
        Accept: 'application/json',
        ...(formBody === undefined ? {} : { 'Content-Type': 'application/x-www-form-urlencoded' }),
      },
      signal,
      responseType: 'text',
      // Keep the raw text: we parse and validate it ourselves, and quote it in errors.
      transformResponse: [(data: unknown) => data],
      validateStatus: () => true,
      maxContentLength: MAX_BODY_BYTES,
    });
    return { status: res.status, body: typeof res.data === 'string' ? res.data : '' };
  } catch (err) {
    if (deadline.aborted) throw new DiscoveryError('timeout', `${method} ${url} timed out after ${timeoutMs} ms`, { url, cause: err });
    if (options.signal?.aborted) throw new DiscoveryError('aborted', `${method} ${url} aborted`, { url, cause: err });
    const detail = axios.isAxiosError(err) ? `${err.code ?? 'error'}: ${err.message}` : String(err);
    if (axios.isAxiosError(err) && err.code === 'ERR_BAD_RESPONSE') {
      throw new DiscoveryError('invalid-response', `invalid answer from ${url}: ${detail}`, { url, cause: err });
    }
    throw new DiscoveryError('unavailable', `${method} ${url} failed: ${detail}`, { url, cause: err });
  }
}

function statusError(method: string, url: string, res: RawResponse): DiscoveryError {
  const code = UNAVAILABLE_STATUSES.has(res.status) ? 'unavailable' : 'http-error';
  return new DiscoveryError(code, `${method} ${url} answered HTTP ${res.status}: ${excerpt(res.body)}`, { url, status: res.status });
}

function notFound(message: string, res: RawResponse, url: string): DiscoveryError {
  return new DiscoveryError('not-found', `${message}: ${excerpt(res.body)}`, { url, status: res.status });
}

function parseKeyValue(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { node?: { value?: unknown } } | null;
    return typeof parsed?.node?.value === 'string' ? parsed.node.value : undefined;
  } catch {
    return undefined;
  }
}

function checkedHexId(id: MemberId): string {
  if (typeof id !== 'bigint' || id <= 0n || id >= 1n << 64n) {
    throw new DiscoveryError('invalid-argument', `invalid member ID ${String(id)}: expected an unsigned 64-bit integer above 0`);
  }
  return memberIdToHex(id);
}

function checkedName(name: string): string {
  // ',' and '=' are the value's separators; a name containing them could not be read back.
  if (name.trim() === '' || name !== name.trim() || /[,=]/.test(name)) {
    throw new DiscoveryError(
      'invalid-argument',
      `invalid member name ${JSON.stringify(name)}: must be non-empty, without surrounding spaces, ',' or '='`,
    );
  }
  return name;
}

function checkedPeerURLs(peerURLs: readonly string[]): string[] {
  if (peerURLs.length === 0) throw new DiscoveryError('invalid-argument', 'at least one peer URL is required');
  const canonical: string[] = [];
  for (const raw of peerURLs) {
    let url: string;
    try {
      url = parseMemberURL(raw);
    } catch (err) {
      throw new DiscoveryError('invalid-argument', errorMessage(err), { cause: err });
    }
    if (!canonical.includes(url)) canonical.push(url);
  }
  return canonical;
}
