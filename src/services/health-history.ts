// The health history kept in etcd itself, under the tool's prefix: one key per member that has been
// unhealthy, `/elastic-etcd/health/<hex member id>`, holding since when (written create-only, so concurrent
// observers keep the earliest start) and deleted once the member answers again.
//
// Why etcd rather than Parameter Store: the history is about etcd members and serves both the Lambda and the
// CLI (a node outside AWS has no Parameter Store); it can only be written while the cluster has a quorum,
// which is also the only time anything is ever acted on; and it goes away with the cluster it describes.
import { applyHistoryChanges, historyChanges, type HealthHistory, type HealthView } from '../core/health-history.js';
import { memberIdToHex, parseHexMemberId } from '../core/ids.js';
import type { MemberId } from '../core/types.js';
import { isEtcdError, type EtcdClient } from '../adapters/etcd/index.js';
import type { Logger } from './log.js';

export const HEALTH_PREFIX = '/elastic-etcd/health/';

interface StoredRecord {
  readonly since: string;
  readonly name: string;
}

/** The stored history; records that cannot be parsed are ignored (updateHealthHistory replaces them). */
export async function readHealthHistory(client: EtcdClient, log: Logger, signal?: AbortSignal): Promise<Map<MemberId, number>> {
  const kvs = await client.getPrefix(HEALTH_PREFIX, signal === undefined ? {} : { signal });
  const history = new Map<MemberId, number>();
  for (const kv of kvs) {
    let id: MemberId | undefined;
    try {
      id = parseHexMemberId(kv.key.slice(HEALTH_PREFIX.length));
    } catch {
      id = undefined;
    }
    const since = sinceOf(kv.value);
    if (id === undefined || since === undefined) log.warn('ignoring a malformed health record', { key: kv.key });
    else history.set(id, since);
  }
  return history;
}

/**
 * Reads the history, updates it from one observation (records new unreachable members, clears members that
 * answered or left) and answers the updated history. Best effort: when etcd refuses the writes (no quorum),
 * the history read (or an empty one) is answered and nothing is acted on from it anyway.
 */
export async function updateHealthHistory(
  client: EtcdClient,
  view: HealthView,
  now: number,
  log: Logger,
  signal?: AbortSignal,
): Promise<HealthHistory> {
  let history: Map<MemberId, number>;
  try {
    history = await readHealthHistory(client, log, signal);
  } catch (err) {
    if (isEtcdError(err, 'aborted')) throw err;
    log.warn('could not read the health history; members count as unhealthy since now', { error: String(err) });
    return new Map();
  }
  const changes = historyChanges(view, history);
  const next = applyHistoryChanges(history, changes, now);
  const names = new Map(view.members.map((m) => [m.id, m.name]));
  const options = signal === undefined ? {} : { signal };
  try {
    for (const id of changes.clear) await client.delete(keyOf(id), {}, options);
    for (const id of changes.record) {
      const record: StoredRecord = { since: new Date(now).toISOString(), name: names.get(id) ?? '' };
      // Create-only: when another observer recorded it meanwhile, its (earlier) start stands.
      const put = await client.putIfAbsent(keyOf(id), JSON.stringify(record), {}, options);
      const since = put.created || put.existing === undefined ? now : sinceOf(put.existing.value);
      if (since !== undefined) {
        next.set(id, since);
        continue;
      }
      // A malformed record would hide the member from the history for good: replace it.
      await client.delete(keyOf(id), {}, options);
      if ((await client.putIfAbsent(keyOf(id), JSON.stringify(record), {}, options)).created) next.set(id, now);
    }
  } catch (err) {
    if (isEtcdError(err, 'aborted')) throw err;
    log.warn('could not update the health history', { error: String(err) });
  }
  return next;
}

function sinceOf(value: string): number | undefined {
  try {
    const since = Date.parse((JSON.parse(value) as Partial<StoredRecord>).since ?? '');
    return Number.isFinite(since) ? since : undefined;
  } catch {
    return undefined;
  }
}

function keyOf(id: MemberId): string {
  return `${HEALTH_PREFIX}${memberIdToHex(id)}`;
}
