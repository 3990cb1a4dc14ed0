// Which etcd the tests, the simulated group, the demo, the chaos runner and the bench run: ONE setting,
// ETCD_VERSION=3.4|3.5, resolved here (and only here) into binary paths.
//   3.4: Debian bookworm's etcd-server/etcd-client (/usr/bin); 3.4 has no etcdutl (etcdctl restores snapshots).
//   3.5: Debian sid's packages, unpacked by scripts/setup.sh into the git-ignored .etcd/3.5/bin of this project.
// The discovery service (discovery.etcd.io) comes from bookworm's etcd-discovery package for both.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ETCD_VERSIONS = ['3.4', '3.5'] as const;
export type EtcdVersionName = (typeof ETCD_VERSIONS)[number];
/** What runs when ETCD_VERSION is not set: the minor the stack deploys by default. */
export const DEFAULT_ETCD_VERSION: EtcdVersionName = '3.5';
export const DISCOVERY_BIN = '/usr/bin/discovery.etcd.io';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface EtcdBinaries {
  readonly version: EtcdVersionName;
  readonly etcd: string;
  readonly etcdctl: string;
  /** etcd 3.5's offline tool (snapshot restore and status); undefined on 3.4, which has none. */
  readonly etcdutl: string | undefined;
}

export class EtcdSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EtcdSetupError';
  }
}

const SETUP_HINT = 'run `bash scripts/setup.sh` (it installs etcd 3.4 from the distribution and fetches etcd 3.5 into .etcd/3.5/)';

/** Parses a version name; an unknown one is an EtcdSetupError naming the known ones. */
export function parseEtcdVersionName(raw: string, from = 'ETCD_VERSION'): EtcdVersionName {
  const found = ETCD_VERSIONS.find((v) => v === raw.trim());
  if (found === undefined) throw new EtcdSetupError(`${from} must be one of ${ETCD_VERSIONS.join(', ')}, got ${JSON.stringify(raw)}`);
  return found;
}

/** The version ETCD_VERSION selects (DEFAULT_ETCD_VERSION when unset or empty). */
export function selectedEtcdVersion(env: NodeJS.ProcessEnv = process.env): EtcdVersionName {
  const raw = env.ETCD_VERSION;
  return raw === undefined || raw.trim() === '' ? DEFAULT_ETCD_VERSION : parseEtcdVersionName(raw);
}

/** Where the binaries of `version` live; nothing is checked. */
export function binaryPaths(version: EtcdVersionName): EtcdBinaries {
  if (version === '3.4') return { version, etcd: '/usr/bin/etcd', etcdctl: '/usr/bin/etcdctl', etcdutl: undefined };
  const bin = `${PROJECT_ROOT}.etcd/3.5/bin`;
  return { version, etcd: `${bin}/etcd`, etcdctl: `${bin}/etcdctl`, etcdutl: `${bin}/etcdutl` };
}

/** The binaries of `version` (default: the selected one); an EtcdSetupError saying what to run when one is missing. */
export function etcdBinaries(version: EtcdVersionName = selectedEtcdVersion()): EtcdBinaries {
  const paths = binaryPaths(version);
  const missing = [paths.etcd, paths.etcdctl, ...(paths.etcdutl === undefined ? [] : [paths.etcdutl])].filter((p) => !existsSync(p));
  if (missing.length > 0) throw new EtcdSetupError(`etcd ${version} is not installed (${missing.join(', ')} missing): ${SETUP_HINT}`);
  return paths;
}

/** The discovery service binary; an EtcdSetupError saying what to run when it is missing. */
export function discoveryBinary(): string {
  if (!existsSync(DISCOVERY_BIN)) throw new EtcdSetupError(`${DISCOVERY_BIN} is missing: ${SETUP_HINT}`);
  return DISCOVERY_BIN;
}

const serverVersions = new Map<EtcdVersionName, string>();

/** The full version the etcd binary of `version` reports (`etcd --version`), e.g. "3.5.30". */
export function etcdServerVersion(version: EtcdVersionName): string {
  let known = serverVersions.get(version);
  if (known === undefined) {
    const out = execFileSync(etcdBinaries(version).etcd, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const match = /etcd Version: (\d+\.\d+\.\d+)/.exec(out);
    if (match?.[1] === undefined)
      throw new EtcdSetupError(`could not read the version of etcd ${version} from ${JSON.stringify(out.slice(0, 200))}`);
    known = match[1];
    serverVersions.set(version, known);
  }
  return known;
}
