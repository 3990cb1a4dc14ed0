// Shared by the demo and the chaos runner: tool checks, the live timeline and the member table.
import { memberIdToHex } from '../src/core/ids.js';
import { etcdBinaries, EtcdSetupError, parseEtcdVersionName, selectedEtcdVersion, type EtcdVersionName } from '../test/harness/index.js';
import type { EtcdctlMember } from '../test/harness/index.js';
import type { World } from '../test/sim/world.js';

/** The etcd version a script runs: its --etcd-version flag, else ETCD_VERSION, else the default (see test/harness/versions.ts). */
export function scriptEtcdVersion(flag: string | undefined): EtcdVersionName {
  return flag === undefined ? selectedEtcdVersion() : parseEtcdVersionName(flag, '--etcd-version');
}

/** Undefined when the binaries of every version are there; otherwise the message saying what to run. */
export function missingEtcd(versions: readonly EtcdVersionName[]): string | undefined {
  for (const version of versions) {
    try {
      etcdBinaries(version);
    } catch (err) {
      if (err instanceof EtcdSetupError) return err.message;
      throw err;
    }
  }
  return undefined;
}

export { printTimelineEntry, type TimelineOptions } from '../test/sim/timeline.js';

export interface MemberRow {
  readonly name: string;
  readonly id: string;
  readonly role: string;
  readonly health: string;
  readonly version: string;
  readonly clientURL: string;
}

/** The members as etcdctl lists them, with each one's own answer to a status request. */
export async function memberTable(world: World, members: readonly EtcdctlMember[]): Promise<MemberRow[]> {
  const statuses = await Promise.all(
    members.map(async (m) => (m.clientURLs[0] === undefined ? undefined : world.status(m.clientURLs[0], 1000))),
  );
  return members.map((m, i) => {
    const status = statuses[i];
    return {
      name: m.name === '' ? '(not started)' : m.name,
      id: memberIdToHex(m.id),
      role: m.isLearner ? 'learner' : 'voter',
      health:
        status === undefined ? 'no answer' : status.leader === 0n ? 'no leader' : status.leader === m.id ? 'healthy (leader)' : 'healthy',
      version: status?.version || '-',
      clientURL: m.clientURLs[0] ?? '-',
    };
  });
}

export function renderTable(rows: readonly MemberRow[]): string {
  const header: MemberRow = { name: 'NAME', id: 'ID', role: 'ROLE', health: 'HEALTH', version: 'ETCD', clientURL: 'CLIENT URL' };
  const all = [header, ...rows];
  const keys = ['name', 'id', 'role', 'health', 'version', 'clientURL'] as const;
  const widths = keys.map((k) => Math.max(...all.map((r) => r[k].length)));
  return all.map((r) => `  ${keys.map((k, i) => r[k].padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd()).join('\n');
}
