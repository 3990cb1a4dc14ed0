// The chaos run's observers: a writer that records which numbered writes etcd acknowledged, and a quorum
// monitor that samples the voters' health. Both talk to the in-service instances' client URLs directly over the
// v3 JSON gateway with short timeouts, so a hung member slows them down by one timeout at most. On TLS members
// they make their requests through the world's `probeJson` (its client certificate).

import { setTimeout as delay } from 'node:timers/promises';
import { quorumOf } from '../../src/core/quorum.js';
import { tryJson } from '../harness/index.js';

/** One JSON request, undefined on any failure: tryJson for plain HTTP, World.probeJson for TLS members. */
export type JsonProbe = (url: string, init?: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number }) => Promise<unknown>;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

export const KEY_PREFIX = '/chaos/key-';

export function keyOf(n: number): string {
  return `${KEY_PREFIX}${String(n).padStart(6, '0')}`;
}

/** Writes /chaos/key-000001, -000002, ... one after another, rotating over the endpoints it is given. */
export class Writer {
  readonly acknowledged = new Set<number>();
  attempted = 0;
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly endpoints: () => readonly string[],
    private readonly probe: JsonProbe = tryJson,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async run(): Promise<void> {
    let turn = 0;
    while (this.running) {
      const endpoints = this.endpoints();
      const endpoint = endpoints[turn++ % Math.max(1, endpoints.length)];
      if (endpoint === undefined) {
        await delay(50);
        continue;
      }
      const n = ++this.attempted;
      // A put answered with a header is committed by a quorum; anything else (timeout, error) is unknown, and
      // an unknown write may or may not be there at the end: only acknowledged ones are checked.
      const answer = await this.probe(`${endpoint}/v3/kv/put`, {
        method: 'POST',
        body: { key: b64(keyOf(n)), value: b64(String(n)) },
        timeoutMs: 1000,
      });
      if (typeof answer === 'object' && answer !== null && 'header' in answer) this.acknowledged.add(n);
      else await delay(20); // that endpoint is down or busy: move on
      await delay(10);
    }
  }
}

/** Reads every /chaos/key-* back (linearizable) and returns the acknowledged numbers that are missing or wrong. */
export async function lostWrites(
  endpoints: readonly string[],
  acknowledged: ReadonlySet<number>,
  probe: JsonProbe = tryJson,
): Promise<{ lost: number[]; read: boolean }> {
  const end = b64(KEY_PREFIX.slice(0, -1) + String.fromCharCode(KEY_PREFIX.charCodeAt(KEY_PREFIX.length - 1) + 1));
  for (const endpoint of endpoints) {
    const answer = await probe(`${endpoint}/v3/kv/range`, {
      method: 'POST',
      body: { key: b64(KEY_PREFIX), range_end: end },
      timeoutMs: 5000,
    });
    if (typeof answer !== 'object' || answer === null || !('header' in answer)) continue;
    const kvs = ((answer as { kvs?: { key?: string; value?: string }[] }).kvs ?? []).map(
      (kv) => [unb64(kv.key ?? ''), unb64(kv.value ?? '')] as const,
    );
    const stored = new Map(kvs);
    const lost = [...acknowledged].filter((n) => stored.get(keyOf(n)) !== String(n)).sort((a, b) => a - b);
    return { lost, read: true };
  }
  return { lost: [], read: false };
}

export interface VoterSample {
  readonly at: number;
  readonly voters: number;
  readonly up: number;
  /** Voters that are down because the chaos itself killed or hung them. */
  readonly chaosDown: number;
  readonly quorum: number;
}

/**
 * Samples the cluster: the member list from any endpoint, then every voter's own status (bounded, in
 * parallel). A voter is up when it answers for the same cluster. A sample is a violation when the voters that
 * are up are fewer than the quorum, and the voters the chaos took down do not explain it (up + chaos-down would
 * still be a quorum): then one of our own actions took the quorum away.
 */
export class QuorumMonitor {
  readonly samples: VoterSample[] = [];
  readonly violations: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private previousBad: VoterSample | undefined;
  private readonly started = Date.now();
  /** Why samples are not judged right now (a quorum the chaos took away on purpose), or undefined. */
  private suspended: string | undefined;

  constructor(
    private readonly endpoints: () => readonly string[],
    /** Names (instance IDs) of members the chaos has killed or hung right now. */
    private readonly chaosDown: () => ReadonlySet<string>,
    private readonly intervalMs = 250,
    private readonly probe: JsonProbe = tryJson,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /**
   * Stops judging samples while the chaos holds a quorum down on purpose (a majority killed at once): the lost
   * quorum is the fault, not an action of ours. Samples are still taken. `resume` judges again.
   */
  suspend(reason: string): void {
    this.suspended = reason;
    this.previousBad = undefined;
  }

  resume(): void {
    this.suspended = undefined;
    this.previousBad = undefined;
  }

  /** One sample now; also used right after each handler action. Returns undefined if no member answered. */
  async sample(context: string): Promise<VoterSample | undefined> {
    const list = await this.memberList();
    if (list === undefined) return undefined;
    const down = this.chaosDown();
    const voters = list.members.filter((m) => m.isLearner !== true);
    const statuses = await Promise.all(
      voters.map(async (m) => {
        const url = m.clientURLs?.[0];
        if (url === undefined) return false;
        const answer = (await this.probe(`${url}/v3/maintenance/status`, { method: 'POST', body: {}, timeoutMs: 700 })) as
          { header?: { cluster_id?: string } } | undefined;
        return answer?.header?.cluster_id === list.clusterId;
      }),
    );
    const up = statuses.filter(Boolean).length;
    const chaosDown = voters.filter((m, i) => statuses[i] !== true && down.has(m.name ?? '')).length;
    const sample: VoterSample = { at: Date.now() - this.started, voters: voters.length, up, chaosDown, quorum: quorumOf(voters.length) };
    this.samples.push(sample);
    const ours = this.suspended === undefined && up < sample.quorum && up + chaosDown >= sample.quorum;
    // Two bad samples in a row: one alone can be a member answering slowly under load, not a lost quorum.
    if (ours && this.previousBad !== undefined) {
      this.violations.push(
        `${context}: ${up} of ${voters.length} voters up (quorum ${sample.quorum}), only ${chaosDown} of them down by the chaos, at ${(sample.at / 1000).toFixed(1)} s`,
      );
    }
    this.previousBad = ours ? sample : undefined;
    return sample;
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.sample('background sample');
      await delay(this.intervalMs);
    }
  }

  private async memberList(): Promise<
    { clusterId: string; members: { name?: string; isLearner?: boolean; clientURLs?: string[] }[] } | undefined
  > {
    for (const endpoint of this.endpoints()) {
      const answer = (await this.probe(`${endpoint}/v3/cluster/member/list`, { method: 'POST', body: {}, timeoutMs: 700 })) as
        { header?: { cluster_id?: string }; members?: { name?: string; isLearner?: boolean; clientURLs?: string[] }[] } | undefined;
      if (answer?.header?.cluster_id !== undefined) return { clusterId: answer.header.cluster_id, members: answer.members ?? [] };
    }
    return undefined;
  }
}
