// Real etcd processes for integration tests: single members from arbitrary settings, static clusters, and a
// local discovery service. Every member gets its own loopback IP with the standard ports (see addresses.ts).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { allocateAddresses, releaseAddresses, CLIENT_PORT, PEER_PORT } from './addresses.js';
import { LoggedProcess, registerDir, removeDir } from './processes.js';
import { pollUntil, tryJson } from './wait.js';
import { discoveryBinary, etcdBinaries, selectedEtcdVersion, type EtcdVersionName } from './versions.js';
import { memberTlsSettings, TestPki, tryHttpsJson, type TlsClientIdentity, type TlsFiles, type TlsPems } from './tls.js';
export const DISCOVERY_PORT = 8087;
const DEFAULT_READY_TIMEOUT_MS = 20_000;

export function clientURLOf(ip: string, scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://${ip}:${CLIENT_PORT}`;
}

export function peerURLOf(ip: string, scheme: 'http' | 'https' = 'http'): string {
  return `${scheme}://${ip}:${PEER_PORT}`;
}

/** A TLS member's files, and the client identity the harness probes it with. */
export interface MemberTls {
  readonly files: TlsFiles;
  readonly client: TlsPems;
}

/** A JSON probe over http, or over https presenting `client`: the parsed JSON of a 2xx answer, undefined otherwise. */
export function probeJson(
  url: string,
  client: TlsPems | undefined,
  init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number },
): Promise<unknown> {
  return url.startsWith('https:') ? tryHttpsJson(url, client ?? {}, init) : tryJson(url, init);
}

export interface StartMemberOptions {
  /** Loopback address; allocated (and owned by the cluster) when left out. */
  readonly ip?: string;
  /**
   * etcd configuration as ETCD_* environment variables, the way systemd hands an env file to etcd. Listen and
   * advertise URLs for this IP are filled in unless given here.
   */
  readonly settings?: Readonly<Record<string, string>>;
  /** Extra command-line flags; etcd lets a flag shadow the same setting given as an environment variable. */
  readonly flags?: readonly string[];
  /** 'ready' (default) waits until the member serves clients and knows a leader; 'none' returns at once. */
  readonly wait?: 'ready' | 'none';
  readonly readyTimeoutMs?: number;
  /** Which etcd runs this member; ETCD_VERSION's (see versions.ts) when left out. */
  readonly version?: EtcdVersionName;
  /**
   * Mutual TLS on both listeners (https:// URLs, client certificates required), with a certificate from the
   * cluster's test CA. Defaults to whether the cluster has TLS enabled (see EtcdCluster.enableTls). Or the
   * member's own files and the identity to probe it with (e.g. certificates an instance fetched from SSM).
   */
  readonly tls?: boolean | MemberTls;
  /** The member's work dir under the cluster's dir (default: its IP and a counter), e.g. an instance ID. */
  readonly workDirName?: string;
  /**
   * Runs after the member's work dir exists and before etcd starts (e.g. restoring a snapshot into its data dir,
   * as a boot script does). A rejection leaves etcd unstarted and is passed on.
   */
  readonly beforeSpawn?: (member: EtcdMember) => Promise<void>;
}

interface MaintenanceStatus {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly leader: bigint;
  readonly isLearner: boolean;
  readonly raftIndex: bigint;
  /** The member's own etcd version, e.g. "3.5.30". */
  readonly version: string;
}

/** Reads /v3/maintenance/status with a short timeout; undefined if the member does not answer. */
export async function readStatus(clientURL: string, timeoutMs = 1000, client?: TlsPems): Promise<MaintenanceStatus | undefined> {
  const body = await probeJson(`${clientURL}/v3/maintenance/status`, client, { method: 'POST', body: {}, timeoutMs });
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as {
    header?: { member_id?: string; cluster_id?: string };
    leader?: string;
    isLearner?: boolean;
    raftIndex?: string;
    version?: string;
  };
  // The JSON gateway leaves out zero values: no leader field means leader 0 (none known).
  const toBig = (v: string | undefined): bigint => (typeof v === 'string' && /^[0-9]+$/.test(v) ? BigInt(v) : 0n);
  return {
    memberId: toBig(record.header?.member_id),
    clusterId: toBig(record.header?.cluster_id),
    leader: toBig(record.leader),
    isLearner: record.isLearner === true,
    raftIndex: toBig(record.raftIndex),
    version: record.version ?? '',
  };
}

/**
 * The member list exactly as one member knows it (the gateway's serializable list, on every version): what a
 * member without a leader still answers, where etcdctl 3.5 (always linearizable) times out.
 */
export async function readLocalMemberList(
  clientURL: string,
  timeoutMs = 2000,
  client?: TlsPems,
): Promise<{ clusterId: bigint; members: { id: bigint; name: string; peerURLs: string[]; clientURLs: string[]; isLearner: boolean }[] }> {
  const body = await probeJson(`${clientURL}/v3/cluster/member/list`, client, { method: 'POST', body: {}, timeoutMs });
  const record = body as
    | {
        header?: { cluster_id?: string };
        members?: { ID?: string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }[];
      }
    | undefined;
  if (typeof record?.header?.cluster_id !== 'string') throw new Error(`${clientURL} answered no member list: ${JSON.stringify(body)}`);
  return {
    clusterId: BigInt(record.header.cluster_id),
    members: (record.members ?? []).map((m) => ({
      id: BigInt(m.ID ?? '0'),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
      isLearner: m.isLearner === true,
    })),
  };
}

function flagValue(flags: readonly string[], name: string): string | undefined {
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i] ?? '';
    const bare = flag.replace(/^--?/, '');
    if (bare === name) return flags[i + 1];
    if (bare.startsWith(`${name}=`)) return bare.slice(name.length + 1);
  }
  return undefined;
}

/** One etcd process. Its work dir holds its log and (for relative paths, etcd's default) its data dir. */
export class EtcdMember {
  readonly clientURL: string;
  readonly peerURL: string;
  readonly name: string;
  readonly dataDir: string;
  readonly logPath: string;
  /** The etcd binary this member runs. */
  readonly etcdBin: string;
  /** The member ID once the member was seen ready (from its own status answer). */
  id: bigint | undefined;
  private process: LoggedProcess | undefined;
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    readonly ip: string,
    readonly workDir: string,
    readonly settings: Readonly<Record<string, string>>,
    readonly flags: readonly string[],
    readonly version: EtcdVersionName,
    /** Set for a member with mutual TLS on both listeners. */
    readonly tls?: MemberTls,
  ) {
    this.etcdBin = etcdBinaries(version).etcd;
    const scheme = tls === undefined ? 'http' : 'https';
    this.clientURL = clientURLOf(ip, scheme);
    this.peerURL = peerURLOf(ip, scheme);
    this.name = flagValue(flags, 'name') ?? settings.ETCD_NAME ?? 'default';
    const dataDir = flagValue(flags, 'data-dir') ?? settings.ETCD_DATA_DIR ?? `${this.name}.etcd`;
    this.dataDir = isAbsolute(dataDir) ? dataDir : join(workDir, dataDir);
    this.logPath = join(workDir, 'etcd.log');
    // Ambient ETCD_* variables must not leak into the member; ours come last.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('ETCD')));
    const defaults: Record<string, string> = {
      ETCD_LISTEN_CLIENT_URLS: this.clientURL,
      ETCD_ADVERTISE_CLIENT_URLS: this.clientURL,
      ETCD_LISTEN_PEER_URLS: this.peerURL,
      ETCD_INITIAL_ADVERTISE_PEER_URLS: this.peerURL,
      ...(tls !== undefined && memberTlsSettings(tls.files)),
    };
    // etcd 3.4 refuses to start when a flag and an ETCD_* variable set the same thing: a default that the
    // flags already give is left out of the environment.
    const given = (key: string): boolean => flagValue(flags, key.slice('ETCD_'.length).toLowerCase().replaceAll('_', '-')) !== undefined;
    this.env = {
      ...inherited,
      ...Object.fromEntries(Object.entries(defaults).filter(([key]) => !given(key))),
      ...settings,
    };
  }

  get pid(): number | undefined {
    return this.process?.running === true ? this.process.pid : undefined;
  }

  get running(): boolean {
    return this.process?.running === true;
  }

  /** Starts the process (again) with the same settings and data dir. */
  spawn(): void {
    if (this.running) throw new Error(`member ${this.name} at ${this.ip} is already running`);
    this.process = new LoggedProcess(this.etcdBin, this.flags, { env: this.env, cwd: this.workDir, logPath: this.logPath });
  }

  /** Waits until the member serves clients and knows a leader; fails early with its log if etcd exits. */
  async waitReady(timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
    const proc = this.process;
    if (proc === undefined) throw new Error(`member ${this.name} was never started`);
    try {
      const status = await pollUntil(
        async () => {
          if (!proc.running) throw new Error(`etcd ${this.name} at ${this.ip} ${proc.exitDescription}`);
          const s = await readStatus(this.clientURL, 1000, this.tls?.client);
          return s !== undefined && s.leader !== 0n ? s : undefined;
        },
        { timeoutMs, what: `etcd ${this.name} at ${this.ip} to be ready` },
      );
      this.id = status.memberId;
    } catch (err) {
      throw new Error(`${(err as Error).message}${proc.logTail()}`, { cause: err });
    }
  }

  /** SIGKILL, then wait for the exit. */
  async kill(): Promise<void> {
    await this.process?.kill();
  }

  /** SIGSTOP: the member keeps accepting TCP connections but never answers (an unreachable host). */
  stop(): void {
    this.process?.signal('SIGSTOP');
  }

  /** SIGCONT after stop(). */
  resume(): void {
    this.process?.signal('SIGCONT');
  }

  /** Deletes the data dir; the member must not be running. */
  wipe(): void {
    if (this.running) throw new Error(`cannot wipe ${this.name}: still running`);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Kills the member if it runs, then starts it with the same settings and data. */
  async restart(options: { wait?: 'ready' | 'none'; readyTimeoutMs?: number } = {}): Promise<void> {
    await this.kill();
    this.spawn();
    if ((options.wait ?? 'ready') === 'ready') await this.waitReady(options.readyTimeoutMs);
  }

  /** Waits for etcd to exit by itself (e.g. when it refuses its configuration). */
  async waitForExit(timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.process === undefined) throw new Error(`member ${this.name} was never started`);
    return this.process.waitForExit(timeoutMs);
  }

  logTail(lines = 25): string {
    return this.process?.logTail(lines) ?? '';
  }
}

/** A local discovery.etcd.io service backed by its own v2-enabled etcd. */
export class DiscoveryService {
  constructor(
    readonly baseURL: string,
    readonly backing: EtcdMember,
    private readonly process: LoggedProcess,
  ) {}

  /** Asks the service for a new discovery URL for a cluster of `size` members. */
  async newDiscoveryURL(size: number): Promise<string> {
    const response = await fetch(`${this.baseURL}/new?size=${size}`, { signal: AbortSignal.timeout(5000) });
    const text = (await response.text()).trim();
    if (!response.ok || !text.startsWith(`${this.baseURL}/`)) {
      throw new Error(`discovery service answered ${response.status}: ${JSON.stringify(text)}${this.process.logTail()}`);
    }
    return text;
  }

  async close(): Promise<void> {
    await this.process.kill();
  }
}

export interface StartClusterOptions {
  /** Number of members, 1 to 5. */
  readonly size: number;
  /** Member names; m1..mN by default. */
  readonly names?: readonly string[];
  readonly token?: string;
  /** Extra flags for every member. */
  readonly flags?: readonly string[];
  readonly wait?: 'ready' | 'none';
  /** Mutual TLS on every member's client and peer listener, certificates from a per-cluster test CA. */
  readonly tls?: boolean;
}

/**
 * A set of etcd processes sharing one temp dir and a pool of loopback addresses. close() frees all of them.
 * `members` holds the initial static members (if any) in order; `all` holds every process started through it.
 */
export class EtcdCluster {
  readonly members: EtcdMember[] = [];
  readonly all: EtcdMember[] = [];
  token = '';
  /** The cluster's test CA once enableTls() ran; members started after that use mutual TLS by default. */
  pki: TestPki | undefined;
  /** A client identity from the test CA ("harness"), for tests and etcdctl; set by enableTls(). */
  tlsClient: TlsClientIdentity | undefined;
  private readonly ips: string[] = [];
  private readonly discoveries: DiscoveryService[] = [];
  private closed = false;

  private constructor(readonly dir: string) {}

  static create(): EtcdCluster {
    const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-cluster-'));
    registerDir(dir);
    return new EtcdCluster(dir);
  }

  /** Client URLs of the initial members, in order. */
  get clientURLs(): string[] {
    return this.members.map((m) => m.clientURL);
  }

  /** Makes the cluster's test CA (our own PKI code) and a client identity; idempotent. */
  async enableTls(): Promise<TestPki> {
    if (this.pki === undefined) {
      const pki = await TestPki.create(join(this.dir, 'pki'));
      this.tlsClient = await pki.issueClient('harness');
      this.pki = pki;
    }
    return this.pki;
  }

  /** Re-issues a TLS member's certificate into the same files (what a renewal timer does on an instance). */
  async renewMemberCertificate(member: EtcdMember, options: { now?: Date; validityDays?: number } = {}): Promise<TlsFiles> {
    if (this.pki === undefined || member.tls === undefined) throw new Error(`member ${member.name} does not use TLS`);
    return this.pki.issueMember(member.name, member.ip, options);
  }

  member(name: string): EtcdMember {
    const found = this.all.find((m) => m.name === name);
    if (found === undefined) throw new Error(`no member named ${name}`);
    return found;
  }

  /** A fresh loopback address owned by this cluster (released on close), e.g. for a replacement member. */
  async allocateIp(): Promise<string> {
    const [ip] = await allocateAddresses(1);
    if (ip === undefined) throw new Error('no address allocated');
    this.ips.push(ip);
    return ip;
  }

  /** The work dir a member started with `workDirName` (or, without it, the next one at `ip`) gets. */
  workDirFor(ip: string, workDirName?: string): string {
    if (workDirName !== undefined && !/^[A-Za-z0-9_.-]+$/.test(workDirName)) throw new Error(`invalid work dir name ${workDirName}`);
    return join(this.dir, workDirName ?? `${ip}-${this.all.length}`);
  }

  /** Starts one etcd process from arbitrary settings or flags (see StartMemberOptions). */
  async startMember(options: StartMemberOptions = {}): Promise<EtcdMember> {
    if (this.closed) throw new Error('cluster is closed');
    const ip = options.ip ?? (await this.allocateIp());
    const workDir = this.workDirFor(ip, options.workDirName);
    mkdirSync(workDir, { recursive: true });
    let tls: MemberTls | undefined = typeof options.tls === 'object' ? options.tls : undefined;
    if (tls === undefined && ((options.tls as boolean | undefined) ?? this.pki !== undefined)) {
      const pki = await this.enableTls();
      const name = flagValue(options.flags ?? [], 'name') ?? options.settings?.ETCD_NAME ?? 'default';
      tls = { files: await pki.issueMember(name, ip), client: this.tlsClient! };
    }
    const member = new EtcdMember(ip, workDir, options.settings ?? {}, options.flags ?? [], options.version ?? selectedEtcdVersion(), tls);
    this.all.push(member);
    await options.beforeSpawn?.(member);
    member.spawn();
    if ((options.wait ?? 'ready') === 'ready') await member.waitReady(options.readyTimeoutMs);
    return member;
  }

  /** Starts a v2-enabled backing etcd and discovery.etcd.io on a new address (discovery port 8087). */
  async startDiscoveryService(): Promise<DiscoveryService> {
    const ip = await this.allocateIp();
    const backing = await this.startMember({
      ip,
      settings: { ETCD_NAME: 'disc', ETCD_INITIAL_CLUSTER: `disc=${peerURLOf(ip)}`, ETCD_ENABLE_V2: 'true' },
      tls: false, // discovery.etcd.io talks plain HTTP to its backing etcd
    });
    const baseURL = `http://${ip}:${DISCOVERY_PORT}`;
    const proc = new LoggedProcess(
      discoveryBinary(),
      ['--addr', `${ip}:${DISCOVERY_PORT}`, '--etcd', backing.clientURL, '--host', baseURL],
      {
        env: process.env,
        cwd: backing.workDir,
        logPath: join(backing.workDir, 'discovery.log'),
      },
    );
    const service = new DiscoveryService(baseURL, backing, proc);
    this.discoveries.push(service);
    try {
      await pollUntil(
        async () => {
          if (!proc.running) throw new Error(`discovery service ${proc.exitDescription}`);
          try {
            await fetch(`${baseURL}/health`, { signal: AbortSignal.timeout(1000) });
            return true; // any HTTP answer means it listens
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 10_000, what: `discovery service at ${baseURL}` },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}${proc.logTail()}`, { cause: err });
    }
    return service;
  }

  /** Kills every process, deletes the temp dir and releases the addresses. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.discoveries.map((d) => d.close()), ...this.all.map((m) => m.kill())]);
    if (process.env.KEEP_ETCD_TEST_DIRS === undefined) removeDir(this.dir);
    releaseAddresses(this.ips);
  }
}

/** An empty cluster sandbox: start members, discovery services and replacements through it. */
export function createCluster(): EtcdCluster {
  return EtcdCluster.create();
}

/** Starts a statically bootstrapped cluster of `size` members (m1..mN) on fresh loopback addresses. */
export async function startCluster(options: StartClusterOptions): Promise<EtcdCluster> {
  const { size } = options;
  if (!Number.isInteger(size) || size < 1 || size > 5) throw new Error(`cluster size must be 1..5, got ${size}`);
  const names = options.names ?? Array.from({ length: size }, (_, i) => `m${i + 1}`);
  if (names.length !== size) throw new Error(`expected ${size} names, got ${names.length}`);
  const cluster = EtcdCluster.create();
  try {
    const ips: string[] = [];
    for (let i = 0; i < size; i++) ips.push(await cluster.allocateIp());
    if (options.tls === true) await cluster.enableTls();
    const scheme = options.tls === true ? 'https' : 'http';
    cluster.token = options.token ?? `test-${randomBytes(6).toString('hex')}`;
    const initialCluster = names.map((name, i) => `${name}=${peerURLOf(ips[i] ?? '', scheme)}`).join(',');
    for (const [i, name] of names.entries()) {
      const member = await cluster.startMember({
        ip: ips[i] ?? '',
        settings: {
          ETCD_NAME: name,
          ETCD_INITIAL_CLUSTER: initialCluster,
          ETCD_INITIAL_CLUSTER_STATE: 'new',
          ETCD_INITIAL_CLUSTER_TOKEN: cluster.token,
        },
        flags: options.flags ?? [],
        wait: 'none', // members only become ready together, once a quorum has started
      });
      cluster.members.push(member);
    }
    if ((options.wait ?? 'ready') === 'ready') await Promise.all(cluster.members.map((m) => m.waitReady()));
    return cluster;
  } catch (err) {
    await cluster.close();
    throw err;
  }
}
