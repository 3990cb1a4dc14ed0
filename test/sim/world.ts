// A simulated Auto Scaling group whose instances are real etcd members, driven by the real lifecycle handler.
//
//   cloud     the simulated Auto Scaling / EC2 / SSM endpoint (server.ts), reached by the REAL SDK clients
//   instances boot like infra/userdata/boot-etcd.sh: poll SSM for their drop-in, then start a real etcd with
//             it on their own loopback address (test/harness)
//   events    the group's EventBridge events go into a queue; nothing is delivered until the test says so,
//             one at a time (as the serialising FIFO queue hands them out; test/sim/fifo.ts models that queue
//             itself), with helpers to duplicate, delay, reorder and drop them
//   handler   handleEvent with the real adapters, a LambdaConfig and short loopback timeouts
//
//   TLS       on by default, as in the stack: the Lambda issues each member's certificate into SSM, an instance
//             writes it into its own pki dir before etcd starts (refreshTls: the renewal timer), and the
//             world's own clients present a certificate issued from the stored CA (see instance-tls.ts)
//
// Used by the Lambda's end-to-end tests and by the demo and chaos scripts. close() frees everything.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { instanceRestoreSchema, parseRestoreValue, type InstanceRestore } from '../../src/adapters/aws/restore-parameters.js';
import { restoreMemberDataDir } from '../harness/snapshot.js';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { CLUSTER_DEFAULTS } from '../../src/core/defaults.js';
import { parseEtcdVersion } from '../../src/core/version.js';
import { createAwsClients, GROUP_TAG, INSTANCE_ARN_TAG, type AwsClients, type ParameterStore } from '../../src/adapters/aws/index.js';
import type { StoredSnapshot } from '../../src/adapters/aws/backups.js';
import { backUp } from '../../src/services/backup.js';
import { loadConfig, toEnvironment, type LambdaConfig } from '../../src/lambda/config.js';
import { lifecycleDeps } from '../../src/lambda/deps.js';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleEvent, handleInvocation, type InvocationResult } from '../../src/lambda/handle.js';
import type { FaultPoint, LifecycleDeps } from '../../src/lambda/deps.js';
import { loggerFor } from '../../src/lambda/log.js';
import { createCapturingTelemetry, type Attributes, type CapturingTelemetry, type Telemetry } from '../../src/lambda/log.js';
import { allocateAddresses, releaseAddresses } from '../harness/addresses.js';
import {
  clientURLOf,
  createCluster,
  probeJson,
  readLocalMemberList,
  readStatus,
  type EtcdCluster,
  type EtcdMember,
  type MemberTls,
} from '../harness/etcd.js';
import { etcdctl, etcdctlMemberList, type EtcdctlMember, type EtcdctlResult } from '../harness/etcdctl.js';
import type { TlsClientIdentity } from '../harness/tls.js';
import type { EtcdConnection } from '../../src/services/connection.js';
import { parseDropin } from '../harness/systemd.js';
import { pollUntil } from '../harness/wait.js';
import { etcdServerVersion, selectedEtcdVersion, type EtcdVersionName } from '../harness/versions.js';
import { scheduledEvent, type EventBridgeEvent } from './events.js';
import type { SimInstance } from './group.js';
import {
  dropinAsksForTls,
  issueClientFromStoredCa,
  memberTlsFiles,
  parseInstanceTls,
  readSecureParameter,
  TLS_FILE_SETTINGS,
  writeMemberTlsFiles,
} from './instance-tls.js';
import { jsonWithBigints } from './timeline.js';
import { SIMULATED_CREDENTIALS, startSimulatedCloud, type SimulatedAccount, type SimulatedCloud } from './server.js';

// ---------------------------------------------------------------------------------------------------------
// The world

export interface WorldLogEntry {
  /** Milliseconds since the world started. */
  readonly at: number;
  readonly source: 'world' | 'group' | 'queue' | 'lambda' | 'instance';
  readonly message: string;
  readonly details?: Attributes;
}

export interface WorldOptions {
  readonly clusterName?: string;
  readonly parameterPrefix?: string;
  readonly clusterSize?: number | 'unlimited';
  readonly joinStrategy?: 'prepare' | 'add' | 'replace' | 'prune';
  readonly joinAs?: 'learner' | 'voter';
  readonly groupName?: string;
  readonly launchHook?: string;
  readonly terminateHook?: string;
  /** Seeds instance IDs, tokens and event IDs. */
  readonly seed?: number;
  /** Share one account (Parameter Store, groups) with other worlds: deployments side by side. Give each its own seed. */
  readonly account?: SimulatedAccount;
  /** How long each instance takes from running to its boot script starting (see SimulatedGroup.setBootDelay). */
  readonly bootDelayMs?: number;
  /** 'late': the group launches before its hooks exist (CloudFormation's order); see SimulatedGroupOptions.hooks. */
  readonly hooks?: 'with-group' | 'late';
  /** 'etcd' (default): instances start real etcd from their drop-in. 'none': instances do nothing (no etcd at all). */
  readonly boot?: 'etcd' | 'none';
  /** How often a booting instance looks for its drop-in, and how long it waits at most (the boot script's wait). */
  readonly bootPollMs?: number;
  readonly bootWaitMs?: number;
  /** 'avoid' (default): a terminated instance's address is not handed out again before close(). 'allow': freed at once. */
  readonly addressReuse?: 'avoid' | 'allow';
  /** Delivery attempts per event, the first included (async Lambda invocations: 1 + 2 retries). */
  readonly maxAttempts?: number;
  /** The invocation's time limit as the handler sees it through remainingMs(). */
  readonly invocationTimeoutMs?: number;
  /** How long a launch waits for another join or a learner (LifecycleDeps.launchWaitMs). */
  readonly launchWaitMs?: number;
  /** How long a launch looks again before abandoning an unsafe join (LifecycleDeps.unsafeRecheckMs). */
  readonly unsafeRecheckMs?: number;
  /** The handler's pause between two looks while it waits (production: 3 s). */
  readonly handlerPollMs?: number;
  /** ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: how long a member stays unhealthy before it is healed (default 300). */
  readonly unhealthyAfterSeconds?: number;
  /** How long a freshly added member is given to start before it may count as unhealthy (LifecycleDeps.joinGraceSeconds). */
  readonly joinGraceSeconds?: number;
  /**
   * A minimal service manager on every instance, like the boot script's systemd unit (Restart=on-failure): an
   * etcd that exits is started again after this many milliseconds (RestartSec, scaled down). Unset: none.
   */
  readonly restartEtcdAfterMs?: number;
  /** Defaults to a capturing telemetry, available as `world.telemetry`. */
  readonly telemetry?: Telemetry;
  /** Receives a line for everything that happens: for a live timeline (demo, chaos). */
  readonly onLog?: (entry: WorldLogEntry) => void;
  /** Which of the handler's log lines reach onLog: its decisions, warnings and errors (default), or all. */
  readonly handlerLogs?: 'decisions' | 'all';
  /**
   * The etcd minor that instances launched from now on run (the launch template's version); ETCD_VERSION's by
   * default. The Lambda is told the same version as ELASTIC_ETCD_VERSION, as the stack does. See setLaunchVersion.
   */
  readonly etcdVersion?: EtcdVersionName;
  /** Backups on: this bucket is created in the simulated S3 and named in ELASTIC_ETCD_BACKUP_BUCKET. */
  readonly backupBucket?: string;
  /** ELASTIC_ETCD_BACKUP_INTERVAL_SECONDS (default: the Lambda's). */
  readonly backupIntervalSeconds?: number;
  /** ELASTIC_ETCD_AUTO_RESTORE (default: the Lambda's, on). */
  readonly autoRestore?: boolean;
  /**
   * How long a lost cluster must be down before an automatic restore (LifecycleDeps.restoreAfterMs): the
   * environment variable's minimum is 60 s, so a test passes a shorter time here.
   */
  readonly restoreAfterMs?: number;
  /**
   * Mutual TLS everywhere (default, as the stack): the Lambda issues member certificates (ELASTIC_ETCD_TLS=on),
   * instances boot with them and the world's clients present a certificate from the stored CA. false: plain
   * HTTP, the development mode.
   */
  readonly tls?: boolean;
  /** ELASTIC_ETCD_QUOTA_BACKEND_BYTES: every member's space quota (default: the Lambda's, 2 GiB). */
  readonly quotaBackendBytes?: number;
}

export interface QueuedEvent {
  /** Position in emission order (duplicates get their own). */
  readonly seq: number;
  readonly event: unknown;
  /** e.g. "launch i-0abc", "terminate i-0abc", "reconcile". */
  readonly summary: string;
  /** Failed deliveries so far. */
  attempts: number;
}

export interface Delivery {
  readonly seq: number;
  readonly summary: string;
  /** 1 for the first delivery of the event. */
  readonly attempt: number;
  readonly result?: InvocationResult;
  readonly error?: Error;
  /** After an error: whether the event went back into the queue (false: attempts exhausted, dead letter). */
  readonly requeued?: boolean;
  readonly ms: number;
}

export interface Completion {
  readonly instanceId: string;
  readonly transition: 'launch' | 'terminate';
  readonly result: 'CONTINUE' | 'ABANDON';
}

export interface WorldCheck {
  /** Empty when the cluster matches the group: see `check()`. */
  readonly problems: string[];
  readonly inService: string[];
  readonly members: EtcdctlMember[];
}

/** Thrown by the fault point armed with `crashAt`: the handler "crashes" between two steps. */
export class SimulatedCrash extends Error {
  constructor(readonly step: string) {
    super(`simulated crash at ${step}`);
    this.name = 'SimulatedCrash';
  }
}

interface BootTask {
  readonly instanceId: string;
  cancelled: boolean;
  readonly done: Promise<void>;
}

/**
 * What loopback changes about peer TLS, and only here: a member checks that a connecting peer's source address is
 * among the SANs of that peer's client certificate (or resolves from one of its DNS names). On EC2 a member dials
 * its peers from its private IP, which its certificate names; on loopback every member dials from 127.0.0.1,
 * whatever address it listens on. The simulated instances therefore skip that one address check (etcd 3.4 and
 * 3.5 have the flag); the certificate must still be presented and signed by the cluster's CA.
 */
const LOOPBACK_PEER_SETTINGS = { ETCD_EXPERIMENTAL_PEER_SKIP_CLIENT_SAN_VERIFICATION: 'true' } as const;

const DEFAULTS = {
  clusterName: 'sim',
  parameterPrefix: CLUSTER_DEFAULTS.parameterPrefix,
  groupName: 'sim-etcd-asg',
  launchHook: 'etcd-launch',
  terminateHook: 'etcd-terminate',
  bootPollMs: 50,
  bootWaitMs: 120_000,
  maxAttempts: 3,
  invocationTimeoutMs: 120_000,
  launchWaitMs: 20_000,
  unsafeRecheckMs: 3_000,
  handlerPollMs: 200,
};

export class World {
  readonly config: LambdaConfig;
  /** ELASTIC_ETCD_* and AWS_* variables that make lambda/handler.ts use this world. */
  readonly env: Record<string, string>;
  readonly deps: LifecycleDeps;
  /** The capturing telemetry, unless the options gave another one. */
  readonly telemetry: CapturingTelemetry | undefined;
  readonly queue: QueuedEvent[] = [];
  /** Events set aside by `hold`, waiting for `release`. */
  readonly held: QueuedEvent[] = [];
  readonly deliveries: Delivery[] = [];
  /** Events whose attempts ran out. */
  readonly deadLetters: QueuedEvent[] = [];
  /** Every handler invocation's start and end (ms since the epoch), direct or from the queue, in start order. */
  readonly invocations: { summary: string; start: number; end: number }[] = [];
  /** Instances whose boot gave up (no drop-in in time, or a drop-in etcd could not be started from). */
  readonly bootFailures: { instanceId: string; reason: string }[] = [];
  /** Instances that restored a snapshot before starting etcd (a restore wave), in order. */
  readonly restoredInstances: string[] = [];

  private readonly started = Date.now();
  private readonly etcdByInstance = new Map<string, EtcdMember>();
  /** The etcd minor each instance was launched with. */
  private readonly versionByInstance = new Map<string, EtcdVersionName>();
  private launchVersion: EtcdVersionName;
  private readonly boots = new Map<string, BootTask>();
  private readonly addresses = new Set<string>();
  private readonly armedFaults: { step: string | RegExp; remaining: number }[] = [];
  /** Boots that will die before fetching their configuration (breakNextBoots). */
  private brokenBoots = 0;
  /** Service manager loops (restartEtcdAfterMs), awaited by close(). */
  private readonly supervisors = new Set<Promise<void>>();
  /** How often the service manager restarted each instance's etcd. */
  readonly etcdRestarts = new Map<string, number>();
  private seq = 0;
  private closed = false;
  private readonly instanceS3: S3Client;
  /** Whether the members run mutual TLS (WorldOptions.tls). */
  readonly tls: boolean;
  /** What instances and the world's own clients reach SSM with: their own client, as the boot script's aws CLI. */
  private readonly instanceSsm: SSMClient;
  /** The world's own client certificate, once the CA exists (see clientTls). */
  private client: TlsClientIdentity | undefined;
  /** Each TLS instance's certificate files, in its own sandbox dir. */
  private readonly tlsFilesByInstance = new Map<string, MemberTls['files']>();
  /** When the current invocation would time out (remainingMs). */
  private invocationDeadline = 0;

  private constructor(
    readonly cloud: SimulatedCloud,
    readonly etcd: EtcdCluster,
    private readonly clients: AwsClients,
    private readonly options: WorldOptions,
    telemetry: Telemetry,
    capturing: CapturingTelemetry | undefined,
    config: LambdaConfig,
    env: Record<string, string>,
  ) {
    this.config = config;
    this.env = env;
    this.launchVersion = options.etcdVersion ?? selectedEtcdVersion();
    this.telemetry = capturing;
    const group = cloud.group;
    this.deps = lifecycleDeps(
      {
        config,
        clients,
        telemetry: this.forwarding(telemetry),
        remainingMs: () => this.remainingMs(),
        instanceArn: (id) => instanceArn(group.region, group.account, id),
        connection: { requestTimeoutMs: 1500, healthTimeoutMs: 1000 },
        s3: cloud.s3Client(3),
      },
      {
        sleep: (ms) => delay(Math.min(ms, options.handlerPollMs ?? DEFAULTS.handlerPollMs)),
        launchWaitMs: options.launchWaitMs ?? DEFAULTS.launchWaitMs,
        unsafeRecheckMs: options.unsafeRecheckMs ?? DEFAULTS.unsafeRecheckMs,
        faultPoint: (step) => this.faultPoint(step),
        ...(options.joinGraceSeconds !== undefined && { joinGraceSeconds: options.joinGraceSeconds }),
        ...(options.restoreAfterMs !== undefined && { restoreAfterMs: options.restoreAfterMs }),
      },
    );
    // What an instance's role reaches S3 with: its own client, as the boot script's aws CLI.
    this.instanceS3 = cloud.s3Client(3);
    this.tls = config.tls !== undefined;
    this.instanceSsm = new SSMClient({
      region: group.region,
      endpoint: cloud.endpoints.ssm,
      credentials: SIMULATED_CREDENTIALS,
      maxAttempts: 3,
    });
  }

  static async start(options: WorldOptions = {}): Promise<World> {
    const pending: { world?: World } = {};
    const etcd = createCluster();
    let cloud: SimulatedCloud | undefined;
    try {
      cloud = await startSimulatedCloud({
        ...(options.account !== undefined && { account: options.account }),
        group: {
          groupName: options.groupName ?? DEFAULTS.groupName,
          seed: options.seed ?? 1,
          launchHook: options.launchHook ?? DEFAULTS.launchHook,
          terminateHook: options.terminateHook ?? DEFAULTS.terminateHook,
          ...(options.hooks !== undefined && { hooks: options.hooks }),
          ...(options.bootDelayMs !== undefined && { bootDelayMs: options.bootDelayMs }),
          // The callbacks only fire once the group has instances, after the world exists.
          allocateIp: () => pending.world!.allocateIp(),
          releaseIp: (ip) => pending.world!.releaseIp(ip),
          onBoot: (instance) => pending.world!.onBoot(instance),
          onShutdown: (instance) => pending.world!.onShutdown(instance),
        },
      });
      const group = cloud.group;
      const env: Record<string, string> = {
        ...cloud.env,
        ...toEnvironment({
          clusterName: options.clusterName ?? DEFAULTS.clusterName,
          parameterPrefix: options.parameterPrefix ?? DEFAULTS.parameterPrefix,
          autoScalingGroup: group.name,
          clusterSize: options.clusterSize ?? 3,
          joinStrategy: options.joinStrategy ?? CLUSTER_DEFAULTS.joinStrategy,
          joinAs: options.joinAs ?? CLUSTER_DEFAULTS.joinAs,
          launchHook: group.launchHook ?? DEFAULTS.launchHook,
          terminateHook: group.terminateHook ?? DEFAULTS.terminateHook,
          healthTimeoutMs: 1000,
          etcdVersion: parseEtcdVersion(etcdServerVersion(options.etcdVersion ?? selectedEtcdVersion())),
          unhealthyAfterMs: options.unhealthyAfterSeconds === undefined ? undefined : options.unhealthyAfterSeconds * 1000,
          tls: options.tls === false ? false : {},
          ...(options.quotaBackendBytes !== undefined && { quotaBackendBytes: options.quotaBackendBytes }),
          ...(options.backupBucket !== undefined && {
            backup: {
              bucket: options.backupBucket,
              prefix: CLUSTER_DEFAULTS.backupPrefix,
              intervalMs: (options.backupIntervalSeconds ?? CLUSTER_DEFAULTS.backupIntervalSeconds) * 1000,
              ...(options.autoRestore !== undefined && { autoRestore: options.autoRestore }),
            },
          }),
        }),
      };
      if (options.backupBucket !== undefined) cloud.s3.createBucket(options.backupBucket);
      const config = loadConfig(env);
      const clients = createAwsClients({
        region: group.region,
        endpoints: cloud.endpoints,
        credentials: SIMULATED_CREDENTIALS,
        maxAttempts: 3,
      });
      const capturing = options.telemetry === undefined ? createCapturingTelemetry() : undefined;
      const world = new World(cloud, etcd, clients, options, options.telemetry ?? capturing!, capturing, config, env);
      pending.world = world;
      group.subscribe((event) => world.enqueue(event));
      world.log(
        'world',
        `cloud at ${cloud.url}, group ${group.name}, cluster ${config.clusterName} of size ${String(config.clusterSize)}, ${world.tls ? 'mutual TLS' : 'plain HTTP'}`,
      );
      return world;
    } catch (err) {
      await etcd.close();
      await cloud?.close();
      throw err;
    }
  }

  get group() {
    return this.cloud.group;
  }

  get parameters(): ParameterStore {
    return this.deps.parameters;
  }

  // --- the group ---------------------------------------------------------------------------------------

  /**
   * What a version change in the stack does: instances launched from now on run `version`, and the Lambda is
   * told that version (ELASTIC_ETCD_VERSION, or `lambdaVersion` when given, e.g. one no binary exists for).
   * Running instances keep theirs.
   */
  setLaunchVersion(version: EtcdVersionName, lambdaVersion: string = etcdServerVersion(version)): void {
    this.launchVersion = version;
    this.env.ELASTIC_ETCD_VERSION = lambdaVersion;
    const config = loadConfig(this.env);
    (this as { config: LambdaConfig }).config = config;
    (this as { deps: LifecycleDeps }).deps = { ...this.deps, config };
    this.log('world', `instances launch with etcd ${version} from now on; the Lambda expects etcd ${lambdaVersion}`);
  }

  /**
   * ELASTIC_ETCD_TLS_RENEW_AT from now on: the fraction of a certificate's lifetime after which the reconcile
   * pass re-issues it (a tiny fraction makes every certificate due at once).
   */
  setTlsRenewAt(fraction: number): void {
    this.env.ELASTIC_ETCD_TLS_RENEW_AT = fraction.toFixed(15).replace(/0+$/, ''); // no exponent: 1e-7 is not a fraction to it
    const config = loadConfig(this.env);
    (this as { config: LambdaConfig }).config = config;
    (this as { deps: LifecycleDeps }).deps = { ...this.deps, config };
    this.log('world', `certificates are renewed after ${fraction} of their lifetime from now on`);
  }

  /** From now on a lost cluster must be down this long before an automatic restore (LifecycleDeps.restoreAfterMs). */
  setRestoreAfter(ms: number): void {
    (this as { deps: LifecycleDeps }).deps = { ...this.deps, restoreAfterMs: ms };
    this.log('world', `an automatic restore waits for ${ms} ms of down time from now on`);
  }

  /** The etcd minor instances launch with now. */
  launchEtcdVersion(): EtcdVersionName {
    return this.launchVersion;
  }

  /** The etcd minor an instance was launched with. */
  instanceVersion(instanceId: string): EtcdVersionName | undefined {
    return this.versionByInstance.get(instanceId);
  }

  /** Sets the desired capacity: the group launches or terminates (newest first) to reach it. */
  async scaleTo(capacity: number): Promise<void> {
    this.log('group', `desired capacity ${this.group.desiredCapacity} -> ${capacity}`);
    await this.group.setDesired(capacity);
  }

  /** Scale-in of one chosen instance (desired capacity drops by one). Its etcd runs until the terminate completes. */
  async terminate(instanceId: string): Promise<void> {
    this.log('group', `terminating ${instanceId} (scale-in)`);
    await this.group.terminate(instanceId);
  }

  /** The group replaces a healthy instance (e.g. an instance refresh): terminated through the hook, desired kept. */
  async replace(instanceId: string): Promise<void> {
    this.log('group', `replacing ${instanceId}`);
    await this.group.terminate(instanceId, { replace: true });
  }

  /** The machine dies: its etcd is killed, the group's health check marks it unhealthy and replaces it. */
  async crash(instanceId: string): Promise<void> {
    this.log('instance', `${instanceId} crashed`);
    await this.etcdByInstance.get(instanceId)?.kill();
    this.cancelBoot(instanceId);
    await this.group.terminate(instanceId, { replace: true });
  }

  /**
   * A snapshot now, through the code the Lambda's scheduled pass runs when one is due (services/backup.ts, the
   * world's backup store): for a demo or test that needs a backup after its writes, without waiting an interval.
   */
  async backUpNow(): Promise<StoredSnapshot> {
    if (this.deps.backups === undefined) throw new Error('backups are off in this world: give it a backupBucket');
    const stored = await backUp(this.deps.backups, {
      endpoints: this.endpoints(),
      connection: await this.connection(),
      log: loggerFor(this.deps.telemetry),
    });
    this.log('world', `backup stored at ${stored.key} (revision ${stored.manifest.revision})`);
    return stored;
  }

  /** Only the etcd process dies; the instance stays in service (the group does not notice). */
  async killEtcd(instanceId: string): Promise<void> {
    this.log('instance', `etcd on ${instanceId} killed`);
    await this.etcdByInstance.get(instanceId)?.kill();
  }

  /**
   * Every instance is lost at once (an AZ outage plus failures, an operator's mistake): every etcd is killed,
   * then the group replaces each instance. Resolves with the lost instances' IDs.
   */
  async loseAll(): Promise<string[]> {
    const lost = this.group
      .instances()
      .filter((i) => i.lifecycleState === 'InService')
      .map((i) => i.id);
    this.log('world', `losing every instance at once: ${lost.join(', ')}`);
    await Promise.all(lost.map((id) => this.etcdByInstance.get(id)?.kill() ?? Promise.resolve()));
    for (const id of lost) this.cancelBoot(id);
    for (const id of lost) await this.group.terminate(id, { replace: true });
    return lost;
  }

  /**
   * A majority is lost at once (an AZ outage plus one failure): `count` in-service instances (default: the
   * smallest majority, the oldest first) lose their etcd and are replaced by the group; the rest keep running
   * without quorum. Resolves with the lost instances' IDs.
   */
  async loseMajority(count?: number): Promise<string[]> {
    const inService = this.group
      .instances()
      .filter((i) => i.lifecycleState === 'InService')
      .map((i) => i.id);
    const lost = inService.slice(0, count ?? Math.floor(inService.length / 2) + 1);
    this.log('world', `losing a majority at once: ${lost.join(', ')}; ${inService.length - lost.length} keep running`);
    await Promise.all(lost.map((id) => this.etcdByInstance.get(id)?.kill() ?? Promise.resolve()));
    for (const id of lost) this.cancelBoot(id);
    for (const id of lost) await this.group.terminate(id, { replace: true });
    return lost;
  }

  /**
   * Starts a gone instance's etcd again on its old data and address (a machine thought lost comes back). Its
   * instance stays out of the group: only its process runs.
   */
  startOldEtcd(instanceId: string): EtcdMember {
    const member = this.etcdByInstance.get(instanceId);
    if (member === undefined) throw new Error(`no etcd was ever started on ${instanceId}`);
    this.log('instance', `${instanceId}: its old etcd starts again on its old data`);
    member.spawn();
    return member;
  }

  /** Flips one byte in the middle of a stored object (bit rot, a bad copy): its manifest no longer matches. */
  flipByte(bucket: string, key: string): void {
    const stored = this.cloud.s3.object(bucket, key);
    if (stored === undefined) throw new Error(`no object s3://${bucket}/${key}`);
    const body = Buffer.from(stored.body);
    const at = Math.floor(body.length / 2);
    body[at] = body[at]! ^ 0xff;
    this.cloud.s3.putRaw(bucket, key, body, { ...stored.metadata });
    this.log('world', `flipped the byte at ${at} of s3://${bucket}/${key}`);
  }

  /**
   * Stores a snapshot of another cluster as the newest in the bucket: `of`'s bytes (so it verifies) under a new
   * key, with a manifest naming another cluster ID and taken now. Resolves with its key.
   */
  putForeignSnapshot(bucket: string, of: string, prefix = CLUSTER_DEFAULTS.backupPrefix): string {
    const body = this.cloud.s3.object(bucket, of)?.body;
    const manifest = this.cloud.s3.object(bucket, `${of}.manifest.json`)?.body;
    if (body === undefined || manifest === undefined) throw new Error(`no snapshot with a manifest at s3://${bucket}/${of}`);
    const now = new Date();
    const key = `${prefix}/snapshots/${now.toISOString().replace(/[-:]/g, '')}-foreign.db`;
    const foreign = {
      ...(JSON.parse(manifest.toString('utf8')) as Record<string, unknown>),
      clusterId: 'f0f0f0f0f0f0f0f',
      takenAt: now.toISOString(),
    };
    this.cloud.s3.putRaw(bucket, key, body);
    this.cloud.s3.putRaw(bucket, `${key}.manifest.json`, Buffer.from(JSON.stringify(foreign)));
    this.log('world', `stored a snapshot of another cluster at s3://${bucket}/${key}`);
    return key;
  }

  /** The next `count` instances to boot die before fetching their configuration: their members never start. */
  breakNextBoots(count = 1): void {
    this.brokenBoots += count;
  }

  /**
   * Corrupts the instance's etcd data (its bbolt database overwritten), so etcd exits at every start: with a
   * service manager (restartEtcdAfterMs) it crash-loops, on an instance that stays InService.
   */
  async corruptDataDir(instanceId: string): Promise<void> {
    const member = this.etcdByInstance.get(instanceId);
    if (member === undefined) throw new Error(`no etcd on ${instanceId}`);
    this.log('instance', `${instanceId}: data dir corrupted`);
    const db = join(member.dataDir, 'member', 'snap', 'db');
    writeFileSync(db, Buffer.alloc(64 * 1024, 0x5a));
    await member.kill();
  }

  /** Scales to `capacity` (default: the cluster size) and settles: a formed, healthy cluster of voters. */
  async bootstrap(capacity?: number): Promise<WorldCheck> {
    const size = capacity ?? (this.config.clusterSize === 'unlimited' ? 3 : this.config.clusterSize);
    await this.scaleTo(size);
    return this.settle();
  }

  /** Waits until the instance has started etcd from its drop-in. */
  async waitForEtcd(instanceId: string, timeoutMs = 10_000): Promise<EtcdMember> {
    return pollUntil(() => Promise.resolve(this.etcdByInstance.get(instanceId)), {
      timeoutMs,
      intervalMs: 20,
      what: `etcd on ${instanceId}`,
    });
  }

  /** The instance's etcd process, once it was started from the drop-in. */
  etcdOf(instanceId: string): EtcdMember | undefined {
    return this.etcdByInstance.get(instanceId);
  }

  instance(instanceId: string): SimInstance {
    const found = this.group.instance(instanceId);
    if (found === undefined) throw new Error(`no instance ${instanceId}`);
    return found;
  }

  /** IDs of the group's instances in a lifecycle state, oldest first. */
  idsIn(state: SimInstance['lifecycleState']): string[] {
    return this.group
      .instances()
      .filter((i) => i.lifecycleState === state)
      .map((i) => i.id);
  }

  inService(): string[] {
    return this.idsIn('InService');
  }

  /** The one instance the group launched that is not in `known`; fails unless there is exactly one. */
  newInstance(known: readonly string[]): string {
    const fresh = this.group
      .instances()
      .map((i) => i.id)
      .filter((id) => !known.includes(id));
    assert.equal(fresh.length, 1, `one new instance, found ${fresh.join(', ')}`);
    return fresh[0]!;
  }

  /** Client URLs of the in-service instances (where etcdctl looks for the cluster). */
  endpoints(): string[] {
    return this.group
      .instances()
      .filter((i) => i.lifecycleState === 'InService')
      .map((i) => this.clientURL(i.id));
  }

  /** An instance's client URL: https:// in a TLS world. */
  clientURL(instanceId: string): string {
    return clientURLOf(this.instance(instanceId).privateIp, this.tls ? 'https' : 'http');
  }

  // --- TLS -----------------------------------------------------------------------------------------------

  /** `<root>/instances/<id>/tls`: the instance's certificate, key and CA (SecureString). */
  tlsParameterName(instanceId: string): string {
    return this.parameters.instanceName(instanceId, 'tls');
  }

  /** `<root>/tls/ca`: the CA with its key (SecureString, create-only). */
  caParameterName(): string {
    return this.parameters.tlsCaName();
  }

  /**
   * The world's own client identity (CN elastic-etcd-world): a certificate issued from the stored CA with our own
   * PKI code, its files in the sandbox for etcdctl. Undefined in a plain-HTTP world, and while no CA exists.
   */
  async clientTls(): Promise<TlsClientIdentity | undefined> {
    if (!this.tls) return undefined;
    this.client ??= await issueClientFromStoredCa(
      this.instanceSsm,
      this.caParameterName(),
      'elastic-etcd-world',
      join(this.etcd.dir, 'world-client'),
    );
    return this.client;
  }

  /** How the world's own code talks to the members with our etcd client (bounds of the handler's, its TLS). */
  async connection(): Promise<EtcdConnection> {
    const client = await this.clientTls();
    return {
      requestTimeoutMs: this.deps.connection.requestTimeoutMs,
      healthTimeoutMs: this.deps.connection.healthTimeoutMs,
      ...(client !== undefined && { tls: { ca: client.ca, cert: client.cert, key: client.key } }),
    };
  }

  /** The certificate files an instance's etcd reads (TLS worlds), in its own sandbox dir. */
  tlsFilesOf(instanceId: string): MemberTls['files'] | undefined {
    return this.tlsFilesByInstance.get(instanceId);
  }

  /**
   * What the renewal timer (elastic-etcd-tls-refresh) does on every instance running etcd, or the given ones:
   * reads its `tls` parameter again and rewrites the files when it changed. etcd reads them for each new
   * connection, so nothing restarts. Resolves with the instances whose files changed.
   */
  async refreshTls(instanceIds: readonly string[] = [...this.tlsFilesByInstance.keys()]): Promise<string[]> {
    const changed: string[] = [];
    for (const id of instanceIds) {
      const files = this.tlsFilesByInstance.get(id);
      const instance = this.group.instance(id);
      if (files === undefined || instance === undefined || instance.ec2State !== 'running') continue;
      const name = this.tlsParameterName(id);
      const stored = parseInstanceTls(await readSecureParameter(this.instanceSsm, name), name, instance.privateIp);
      if (writeMemberTlsFiles(files, stored)) {
        changed.push(id);
        this.log('instance', `${id} renewed its certificate files (valid until ${stored.notAfter})`);
      }
    }
    return changed;
  }

  // --- the world's own clients -------------------------------------------------------------------------

  /** etcdctl through the in-service instances (or `endpoints`), with the world's client certificate. */
  async etcdctl(args: readonly string[], endpoints: readonly string[] = this.endpoints()): Promise<EtcdctlResult> {
    const client = await this.clientTls();
    return etcdctl(endpoints, args, client === undefined ? {} : { tls: client });
  }

  /** `etcdctl member list` through the in-service instances (or `endpoints`), IDs as bigint. */
  async memberList(endpoints: readonly string[] = this.endpoints()): Promise<{ clusterId: bigint; members: EtcdctlMember[] }> {
    const client = await this.clientTls();
    return etcdctlMemberList(endpoints, client === undefined ? {} : { tls: client });
  }

  /** One member's own status answer (a client URL or an instance ID); undefined when it does not answer. */
  async status(urlOrInstance: string, timeoutMs = 1000): Promise<Awaited<ReturnType<typeof readStatus>>> {
    const url = urlOrInstance.includes('://') ? urlOrInstance : this.clientURL(urlOrInstance);
    return readStatus(url, timeoutMs, await this.clientTls());
  }

  /** A JSON request to a member (GET, or POST with a body) with the world's client certificate; undefined on any failure. */
  async probeJson(url: string, init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<unknown> {
    return probeJson(url, await this.clientTls(), init);
  }

  /** The member list exactly as one instance's member knows it (serializable: answered without a leader). */
  async localMemberList(instanceId: string, timeoutMs = 2000): ReturnType<typeof readLocalMemberList> {
    return readLocalMemberList(this.clientURL(instanceId), timeoutMs, await this.clientTls());
  }

  /** Every CompleteLifecycleAction the handler made that succeeded, in order. */
  completions(): Completion[] {
    const hooks = { [this.config.launchHook]: 'launch', [this.config.terminateHook]: 'terminate' } as const;
    return this.cloud
      .callsOf('CompleteLifecycleAction')
      .filter((c) => c.error === undefined)
      .map((c) => ({
        instanceId: String(c.params.InstanceId),
        transition: hooks[String(c.params.LifecycleHookName)] ?? 'launch',
        result: c.params.LifecycleActionResult === 'ABANDON' ? 'ABANDON' : 'CONTINUE',
      }));
  }

  // --- the event queue ---------------------------------------------------------------------------------

  /** Puts an event into the queue (at the back, or the front). */
  enqueue(event: unknown, options: { front?: boolean } = {}): QueuedEvent {
    const queued: QueuedEvent = { seq: ++this.seq, event, summary: summarize(event), attempts: 0 };
    if (options.front === true) this.queue.unshift(queued);
    else this.queue.push(queued);
    this.log('queue', `queued #${queued.seq} ${queued.summary}`);
    return queued;
  }

  /** Queued events matching a summary prefix ("launch", "terminate i-0abc", ...) or a predicate. */
  find(match: string | ((q: QueuedEvent) => boolean)): QueuedEvent[] {
    return this.queue.filter(matcher(match));
  }

  /** Removes the matching events from the queue: they are lost. */
  drop(match: string | ((q: QueuedEvent) => boolean)): QueuedEvent[] {
    const dropped = this.take(match);
    for (const q of dropped) this.log('queue', `dropped #${q.seq} ${q.summary}`);
    return dropped;
  }

  /** Queues a second copy of each matching event, right behind the original (or at the back). */
  duplicate(match: string | ((q: QueuedEvent) => boolean), options: { atBack?: boolean } = {}): QueuedEvent[] {
    const copies: QueuedEvent[] = [];
    for (const original of this.queue.filter(matcher(match))) {
      const copy: QueuedEvent = { seq: ++this.seq, event: structuredClone(original.event), summary: original.summary, attempts: 0 };
      if (options.atBack === true) this.queue.push(copy);
      else this.queue.splice(this.queue.indexOf(original) + 1, 0, copy);
      this.log('queue', `duplicated #${original.seq} ${original.summary} as #${copy.seq}`);
      copies.push(copy);
    }
    return copies;
  }

  /** Moves the matching events to the front of the queue (delivered next, in their order). */
  prioritize(match: string | ((q: QueuedEvent) => boolean)): void {
    const moved = this.take(match);
    this.queue.unshift(...moved);
  }

  /** Sets the matching events aside (delayed) until `release`. */
  hold(match: string | ((q: QueuedEvent) => boolean)): QueuedEvent[] {
    const held = this.take(match);
    this.held.push(...held);
    for (const q of held) this.log('queue', `holding #${q.seq} ${q.summary}`);
    return held;
  }

  /** Puts held events (all, or the matching ones) back at the end of the queue. */
  release(match: string | ((q: QueuedEvent) => boolean) = () => true): QueuedEvent[] {
    const released = this.held.filter(matcher(match));
    for (const q of released) this.held.splice(this.held.indexOf(q), 1);
    this.queue.push(...released);
    for (const q of released) this.log('queue', `released #${q.seq} ${q.summary}`);
    return released;
  }

  /** Delivers the next queued event to the handler. A thrown error sends it back to the queue, bounded. */
  async deliver(): Promise<Delivery | undefined> {
    const next = this.queue.shift();
    if (next === undefined) return undefined;
    const delivery = await this.invoke(next.event, next.seq, next.summary, next.attempts + 1);
    if (delivery.error !== undefined) {
      next.attempts++;
      const requeue = next.attempts < (this.options.maxAttempts ?? DEFAULTS.maxAttempts);
      if (requeue) this.queue.push(next);
      else this.deadLetters.push(next);
      const final = { ...delivery, requeued: requeue };
      this.deliveries[this.deliveries.length - 1] = final;
      return final;
    }
    return delivery;
  }

  /** Runs the handler on an event outside the queue (e.g. a malformed one); errors are returned, not retried. */
  async invokeDirect(event: unknown): Promise<Delivery> {
    return this.invoke(event, ++this.seq, summarize(event), 1);
  }

  /**
   * An SQS batch from the serialising queue, delivered to the handler as the event source mapping does
   * (handleInvocation, as lambda/handler.ts). Nothing here serialises: the queue model does (test/sim/fifo.ts).
   */
  async deliverBatch(event: SQSEvent): Promise<SQSBatchResponse> {
    const start = Date.now();
    const entry = { summary: event.Records.map((r) => summarizeBody(r.body)).join(', '), start, end: start };
    this.invocations.push(entry);
    this.invocationDeadline = start + (this.options.invocationTimeoutMs ?? DEFAULTS.invocationTimeoutMs);
    this.log('lambda', `delivering queue batch ${entry.summary}`);
    try {
      return (await handleInvocation(event, this.deps)) as SQSBatchResponse;
    } finally {
      entry.end = Date.now();
    }
  }

  /** The scheduled reconcile pass, delivered at once. */
  async reconcile(): Promise<Delivery> {
    const group = this.group;
    const event = scheduledEvent({ id: group.nextUuid(), time: new Date(), region: group.region, account: group.account });
    return this.invoke(event, ++this.seq, 'reconcile', 1);
  }

  /**
   * Delivers until no event is queued and no lifecycle action is pending. With `reconcile: 'when-stuck'`
   * (default) a reconcile pass runs when actions are pending but no event is left to deliver (lost events);
   * with 'never' it stops there. Throws when `maxDeliveries` did not suffice.
   */
  async runUntilQuiet(options: { maxDeliveries?: number; reconcile?: 'when-stuck' | 'never' } = {}): Promise<Delivery[]> {
    const max = options.maxDeliveries ?? 40;
    const done: Delivery[] = [];
    while (done.length < max) {
      if (this.queue.length > 0) {
        done.push((await this.deliver())!);
      } else if (this.group.pendingActions().length > 0 && (options.reconcile ?? 'when-stuck') === 'when-stuck') {
        done.push(await this.reconcile());
      } else {
        return done;
      }
    }
    throw new Error(
      `not quiet after ${max} deliveries: queued ${this.queue.map((q) => q.summary).join(', ') || 'nothing'}, ` +
        `pending actions ${
          this.group
            .pendingActions()
            .map((a) => `${a.transition} ${a.instanceId}`)
            .join(', ') || 'none'
        }\n${this.describeTimeline(40)}`,
    );
  }

  /**
   * Runs until quiet, then reconciles until the cluster matches the group (`check()` finds no problem):
   * learners are promoted and left-overs removed by the reconcile pass. Bounded by `timeoutMs`.
   */
  async settle(options: { timeoutMs?: number } = {}): Promise<WorldCheck> {
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      await this.runUntilQuiet();
      const result = await this.check();
      if (result.problems.length === 0) return result;
      if (Date.now() >= deadline) {
        throw new Error(`the cluster did not settle: ${result.problems.join('; ')}\n${this.describeTimeline(40)}`);
      }
      await this.reconcile();
      await delay(200); // let a new learner catch up before the next look
    }
  }

  /** Crashes the handler at `step` (a LifecycleDeps/runJoin fault point name, or a pattern) the next `times` times. */
  crashAt(step: FaultPoint | RegExp, times = 1): void {
    this.armedFaults.push({ step, remaining: times });
  }

  // --- checks ------------------------------------------------------------------------------------------

  /**
   * Compares the real cluster and the parameters with the group. Problems found:
   * - an instance still pending or terminating, or an event still queued;
   * - members (by etcdctl) other than exactly the in-service instances, a learner, an unstarted member;
   * - a member that is not healthy (no answer, another cluster, no leader);
   * - an in-service instance without its drop-in tagged with its ARN and group, or with an env parameter;
   *   parameters of any other instance.
   */
  async check(): Promise<WorldCheck> {
    const problems: string[] = [];
    const inService = this.inService().sort();
    const waiting = this.group.instances().filter((i) => i.lifecycleState !== 'InService');
    if (waiting.length > 0) problems.push(`instances not in service: ${waiting.map((i) => `${i.id} ${i.lifecycleState}`).join(', ')}`);
    if (this.queue.length > 0) problems.push(`events still queued: ${this.queue.map((q) => q.summary).join(', ')}`);

    let members: EtcdctlMember[] = [];
    if (inService.length > 0) {
      try {
        const list = await this.memberList();
        members = list.members;
        const names = members.map((m) => m.name).sort();
        if (JSON.stringify(names) !== JSON.stringify(inService)) {
          problems.push(`members ${JSON.stringify(names)} are not the in-service instances ${JSON.stringify(inService)}`);
        }
        const learners = members.filter((m) => m.isLearner);
        if (learners.length > 0) problems.push(`learners: ${learners.map((m) => m.name || m.id.toString(16)).join(', ')}`);
        const statuses = await Promise.all(
          members.map(async (m) => (m.clientURLs[0] === undefined ? undefined : this.status(m.clientURLs[0], 1000))),
        );
        members.forEach((m, i) => {
          const status = statuses[i];
          if (status === undefined || status.leader === 0n || status.clusterId !== list.clusterId) {
            problems.push(`member ${m.name || m.id.toString(16)} is not healthy`);
          }
        });
      } catch (err) {
        problems.push(`no member list: ${(err as Error).message}`);
      }
    }

    const store = this.cloud.parameters;
    for (const id of inService) {
      const name = this.parameters.instanceName(id, 'dropin');
      if (store.value(name) === undefined) problems.push(`no dropin parameter for ${id}`);
      else if (store.tags(name)?.[INSTANCE_ARN_TAG] !== instanceArn(this.group.region, this.group.account, id)) {
        problems.push(`${name} is not tagged with the ARN of ${id}`);
      } else if (store.tags(name)?.[GROUP_TAG] !== this.group.name) {
        problems.push(`${name} is not tagged with the group ${this.group.name}`);
      }
      if (this.tls) {
        const tlsName = this.tlsParameterName(id);
        if (store.value(tlsName) === undefined) problems.push(`no tls parameter for ${id}`);
        else if (store.tags(tlsName)?.[INSTANCE_ARN_TAG] !== instanceArn(this.group.region, this.group.account, id)) {
          problems.push(`${tlsName} is not tagged with the ARN of ${id}`);
        }
      }
      // The env file is no longer written (nothing read it): the drop-in is the instance's only configuration.
      if (store.value(this.parameters.instanceName(id, 'env')) !== undefined) problems.push(`an env parameter was written for ${id}`);
    }
    const orphans = (await this.parameters.listInstanceIds()).filter((id) => !inService.includes(id));
    if (orphans.length > 0) problems.push(`parameters of instances not in service: ${orphans.join(', ')}`);
    return { problems, inService, members };
  }

  /** `etcdctl put` through the in-service instances. */
  async put(key: string, value: string): Promise<void> {
    const result = await this.etcdctl(['put', key, value]);
    if (result.exitCode !== 0) throw new Error(`etcdctl put ${key} failed: ${result.stderr.trim()}`);
  }

  /** `etcdctl get --print-value-only`, linearizable, through the in-service instances; undefined when absent. */
  async get(key: string): Promise<string | undefined> {
    const result = await this.etcdctl(['get', key, '--print-value-only']);
    if (result.exitCode !== 0) throw new Error(`etcdctl get ${key} failed: ${result.stderr.trim()}`);
    const value = result.stdout.replace(/\n$/, '');
    return value === '' ? undefined : value;
  }

  /** Waits until every started etcd of an in-service instance serves and knows a leader. */
  async waitForHealthyMembers(timeoutMs = 30_000): Promise<void> {
    await pollUntil(
      async () => {
        const ids = this.inService();
        const statuses = await Promise.all(ids.map((id) => this.status(id, 1000)));
        return statuses.every((s) => s !== undefined && s.leader !== 0n) ? true : undefined;
      },
      { timeoutMs, intervalMs: 100, what: 'the in-service members to be healthy' },
    );
  }

  /** The last `lines` deliveries, one line each: for failure messages. */
  describeTimeline(lines = 30): string {
    const deliveries = this.deliveries
      .slice(-lines)
      .map(
        (d) =>
          `  #${d.seq} ${d.summary} (attempt ${d.attempt}, ${d.ms} ms): ${d.error === undefined ? `${d.result?.kind ?? ''} ${d.result?.outcome ?? ''}` : `ERROR ${d.error.message}`}`,
      );
    // The reasons behind them: the last decisions and warnings the handler logged.
    const logged = (this.telemetry?.logs ?? [])
      .filter((l) => l.level === 'WARN' || l.level === 'ERROR' || l.attributes.decision !== undefined)
      .slice(-10)
      .map((l) => `  ${l.level} ${l.message} ${jsonWithBigints(l.attributes)}`);
    return [...deliveries, '  last decisions and warnings:', ...logged].join('\n');
  }

  /** Stops every etcd, the endpoint and the SDK clients, and frees the addresses. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.boots.values()) task.cancelled = true;
    await Promise.allSettled([...this.boots.values()].map((t) => t.done));
    await Promise.allSettled([...this.supervisors]);
    await this.etcd.close();
    await this.group.idle().catch(() => undefined); // shutdown callbacks of instances terminated at the end
    this.clients.autoScaling.destroy();
    this.clients.ec2.destroy();
    this.clients.ssm.destroy();
    this.clients.sqs.destroy();
    this.instanceS3.destroy();
    this.instanceSsm.destroy();
    await this.cloud.close();
    releaseAddresses([...this.addresses]);
    this.addresses.clear();
  }

  // --- internals ---------------------------------------------------------------------------------------

  private async invoke(event: unknown, seq: number, summary: string, attempt: number): Promise<Delivery> {
    const start = Date.now();
    this.invocationDeadline = start + (this.options.invocationTimeoutMs ?? DEFAULTS.invocationTimeoutMs);
    this.log('lambda', `delivering #${seq} ${summary}${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
    const interval = { summary, start, end: start };
    this.invocations.push(interval);
    let delivery: Delivery;
    try {
      const result = await handleEvent(event, this.deps);
      delivery = { seq, summary, attempt, result, ms: Date.now() - start };
      this.log('lambda', `#${seq} ${summary}: ${result.kind} ${result.kind === 'reconcile' ? '' : result.outcome}`.trim());
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      delivery = { seq, summary, attempt, error, ms: Date.now() - start };
      this.log('lambda', `#${seq} ${summary} failed: ${error.message}`);
    }
    interval.end = Date.now();
    this.deliveries.push(delivery);
    return delivery;
  }

  private remainingMs(): number {
    return Math.max(0, this.invocationDeadline - Date.now());
  }

  private faultPoint(step: string): void {
    const armed = this.armedFaults.find((f) => f.remaining > 0 && (typeof f.step === 'string' ? f.step === step : f.step.test(step)));
    if (armed === undefined) return;
    armed.remaining--;
    this.log('lambda', `crashing at ${step}`);
    throw new SimulatedCrash(step);
  }

  private take(match: string | ((q: QueuedEvent) => boolean)): QueuedEvent[] {
    const taken = this.queue.filter(matcher(match));
    for (const q of taken) this.queue.splice(this.queue.indexOf(q), 1);
    return taken;
  }

  private async allocateIp(): Promise<string> {
    const [ip] = await allocateAddresses(1);
    if (ip === undefined) throw new Error('no loopback address available');
    this.addresses.add(ip);
    return ip;
  }

  private releaseIp(ip: string): void {
    if ((this.options.addressReuse ?? 'avoid') !== 'allow') return; // kept until close(): no reuse
    this.addresses.delete(ip);
    releaseAddresses([ip]);
  }

  private onBoot(instance: SimInstance): void {
    this.versionByInstance.set(instance.id, this.launchVersion);
    this.log('instance', `${instance.id} launched at ${instance.privateIp} (etcd ${this.launchVersion})`);
    if ((this.options.boot ?? 'etcd') === 'none') return;
    if (this.brokenBoots > 0) {
      this.brokenBoots--;
      this.log('instance', `${instance.id} boot died before fetching its configuration`);
      return;
    }
    // Detached from the group's callback tracking: a boot waits for the Lambda, which the test drives.
    const task: { cancelled: boolean } = { cancelled: false };
    const done = this.boot(instance, task).catch((err: unknown) => {
      this.bootFailures.push({ instanceId: instance.id, reason: String(err) });
      this.log('instance', `${instance.id} boot failed: ${String(err)}`);
    });
    this.boots.set(instance.id, Object.assign(task, { instanceId: instance.id, done }));
  }

  /** What infra/userdata/boot-etcd.sh does: wait for this instance's drop-in, then start etcd with it. */
  private async boot(instance: SimInstance, task: { cancelled: boolean }): Promise<void> {
    const name = this.parameters.instanceName(instance.id, 'dropin');
    const deadline = Date.now() + (this.options.bootWaitMs ?? DEFAULTS.bootWaitMs);
    let dropin: string | undefined;
    for (;;) {
      if (task.cancelled || this.closed || instance.ec2State !== 'running') return;
      dropin = this.cloud.parameters.value(name);
      if (dropin !== undefined) break;
      if (Date.now() >= deadline) throw new Error(`no drop-in at ${name} after ${this.options.bootWaitMs ?? DEFAULTS.bootWaitMs} ms`);
      await delay(this.options.bootPollMs ?? DEFAULTS.bootPollMs);
    }
    const { settings } = parseDropin(dropin);
    // A member of a restore wave: its restore was written before the drop-in (absent: a normal boot).
    const restoreName = this.parameters.instanceName(instance.id, 'restore');
    const restoreRaw = this.cloud.parameters.value(restoreName);
    const restore = restoreRaw === undefined ? undefined : parseRestoreValue(instanceRestoreSchema, restoreRaw, restoreName);
    const version = this.versionByInstance.get(instance.id) ?? this.launchVersion;
    // A drop-in with TLS: the boot script fetches the certificate (written before the drop-in) into its pki dir.
    const tls = dropinAsksForTls(settings) ? await this.fetchMemberTls(instance) : undefined;
    const tlsPaths = Object.fromEntries(
      Object.entries(TLS_FILE_SETTINGS)
        .filter(([key]) => settings[key] !== undefined)
        .map(([key, file]) => [key, tls!.files[file]]),
    );
    // The drop-in names the data dir and the certificate files on the real machine; here every instance gets its
    // own under the sandbox.
    const member = await this.etcd.startMember({
      ip: instance.privateIp,
      settings: { ...settings, ETCD_DATA_DIR: 'data', ...tlsPaths, ...(tls !== undefined && LOOPBACK_PEER_SETTINGS) },
      wait: 'none',
      version,
      workDirName: instance.id,
      tls: tls ?? false,
      ...(restore !== undefined && { beforeSpawn: (m: EtcdMember) => this.restoreBeforeStart(instance.id, m, restore, settings, version) }),
    });
    this.etcdByInstance.set(instance.id, member);
    this.log('instance', `${instance.id} started etcd (${settings.ETCD_INITIAL_CLUSTER_STATE ?? '?'} cluster)`, {
      pid: member.pid,
      initialCluster: settings.ETCD_INITIAL_CLUSTER,
    });
    if (task.cancelled || instance.ec2State !== 'running')
      await member.kill(); // terminated while starting
    else if (this.options.restartEtcdAfterMs !== undefined) this.supervise(instance, member, this.options.restartEtcdAfterMs);
  }

  /**
   * What the boot script does for a drop-in with TLS, before etcd starts: reads the instance's `tls` parameter
   * (with decryption), checks it and writes ca.crt, member.crt and member.key (0600) into the instance's own pki
   * dir. A missing or unusable parameter throws: the boot fails and etcd is not started.
   */
  private async fetchMemberTls(instance: SimInstance): Promise<MemberTls> {
    const name = this.tlsParameterName(instance.id);
    const stored = parseInstanceTls(await readSecureParameter(this.instanceSsm, name), name, instance.privateIp);
    const files = memberTlsFiles(join(this.etcd.workDirFor(instance.privateIp, instance.id), 'pki'));
    writeMemberTlsFiles(files, stored);
    this.tlsFilesByInstance.set(instance.id, files);
    const client = await this.clientTls();
    if (client === undefined) throw new Error(`${instance.id} has a certificate but the world finds no CA to issue its client from`);
    this.log('instance', `${instance.id} wrote its certificate (valid until ${stored.notAfter})`);
    return { files, client };
  }

  /**
   * What the boot script does for a member of a restore wave, before etcd starts: downloads the snapshot (the
   * real S3 client, the simulated S3), checks its size and SHA-256 against the parameter, and restores it with
   * the drop-in's name, initial cluster and token using the instance's etcd version's own tool. Any mismatch or
   * failure throws: the boot fails and etcd is not started.
   */
  private async restoreBeforeStart(
    instanceId: string,
    member: EtcdMember,
    restore: InstanceRestore,
    settings: Readonly<Record<string, string>>,
    version: EtcdVersionName,
  ): Promise<void> {
    const where = `s3://${restore.bucket}/${restore.key}`;
    const file = join(member.workDir, 'restore.db');
    const answer = await this.instanceS3.send(new GetObjectCommand({ Bucket: restore.bucket, Key: restore.key }));
    const hash = createHash('sha256');
    let size = 0;
    await pipeline(
      answer.Body as Readable,
      new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      }),
      createWriteStream(file, { mode: 0o600 }),
    );
    const sha256 = hash.digest('hex');
    if (size !== restore.size || sha256 !== restore.sha256) {
      throw new Error(
        `snapshot ${where} does not match its restore parameter (${size} bytes, SHA-256 ${sha256}; expected ${restore.size}, ${restore.sha256}): etcd not started`,
      );
    }
    const restored = await restoreMemberDataDir(version, file, {
      name: settings.ETCD_NAME ?? instanceId,
      initialCluster: settings.ETCD_INITIAL_CLUSTER ?? '',
      token: settings.ETCD_INITIAL_CLUSTER_TOKEN ?? '',
      peerURL: settings.ETCD_INITIAL_ADVERTISE_PEER_URLS ?? '',
      dataDir: member.dataDir,
    });
    rmSync(file, { force: true });
    this.restoredInstances.push(instanceId);
    this.log(
      'instance',
      `${instanceId} restored ${where} (revision ${restore.revision})${restored ? '' : ': data dir kept, already restored'}`,
    );
  }

  /** Restart=on-failure: starts the instance's etcd again whenever it exits, until the instance goes away. */
  private supervise(instance: SimInstance, member: EtcdMember, restartMs: number): void {
    const loop = (async () => {
      for (;;) {
        await delay(restartMs);
        if (this.closed || instance.ec2State !== 'running') return;
        if (member.running) continue;
        this.etcdRestarts.set(instance.id, (this.etcdRestarts.get(instance.id) ?? 0) + 1);
        this.log('instance', `${instance.id}: etcd exited, the service manager starts it again`);
        member.spawn();
      }
    })();
    this.supervisors.add(loop);
    void loop.finally(() => this.supervisors.delete(loop));
  }

  private cancelBoot(instanceId: string): void {
    const task = this.boots.get(instanceId);
    if (task !== undefined) task.cancelled = true;
  }

  private async onShutdown(instance: SimInstance): Promise<void> {
    this.cancelBoot(instance.id);
    await this.boots.get(instance.id)?.done;
    await this.etcdByInstance.get(instance.id)?.kill();
    this.log('instance', `${instance.id} terminated`);
  }

  /** Wraps the handler's telemetry so decisions and errors also reach the timeline. */
  private forwarding(inner: Telemetry): Telemetry {
    if (this.options.onLog === undefined) return inner;
    return {
      debug: (m, a) => {
        if (this.options.handlerLogs === 'all') this.log('lambda', `debug: ${m}`, a);
        inner.debug(m, a);
      },
      info: (m, a) => {
        if (this.options.handlerLogs === 'all' && m !== 'decision') this.log('lambda', m, a);
        inner.info(m, a);
      },
      warn: (m, a) => {
        this.log('lambda', `warning: ${m}`, a);
        inner.warn(m, a);
      },
      error: (m, a) => {
        this.log('lambda', `error: ${m}`, a);
        inner.error(m, a);
      },
      decision: (record) => {
        this.log(
          'lambda',
          `decision ${record.trigger}${record.instanceId === undefined ? '' : ` ${record.instanceId}`}: ${record.decision}: ${record.reason}`,
        );
        inner.decision(record);
      },
      count: (c, v) => inner.count(c, v),
      gauge: (n, v) => inner.gauge(n, v),
      latency: (n, ms) => inner.latency(n, ms),
      addContext: (c) => inner.addContext(c),
      appendKeys: (a) => inner.appendKeys(a),
      resetKeys: () => inner.resetKeys(),
      flush: () => inner.flush(),
    };
  }

  private log(source: WorldLogEntry['source'], message: string, details?: Attributes): void {
    this.options.onLog?.({ at: Date.now() - this.started, source, message, ...(details !== undefined && { details }) });
  }
}

/** Starts a world; `close()` it in an `after` hook (it frees everything even after a failed test). */
export function startWorld(options: WorldOptions = {}): Promise<World> {
  return World.start(options);
}

export function instanceArn(region: string, account: string, instanceId: string): string {
  return `arn:aws:ec2:${region}:${account}:instance/${instanceId}`;
}

/** "launch i-0abc", "terminate i-0abc", "reconcile", or the detail-type / "unknown". */
export function summarize(event: unknown): string {
  if (typeof event !== 'object' || event === null) return 'unknown';
  const e = event as { 'detail-type'?: unknown; detail?: { EC2InstanceId?: unknown } };
  const id = typeof e.detail?.EC2InstanceId === 'string' ? ` ${e.detail.EC2InstanceId}` : '';
  if (e['detail-type'] === 'EC2 Instance-launch Lifecycle Action') return `launch${id}`;
  if (e['detail-type'] === 'EC2 Instance-terminate Lifecycle Action') return `terminate${id}`;
  if (e['detail-type'] === 'Scheduled Event') return 'reconcile';
  return typeof e['detail-type'] === 'string' ? e['detail-type'] : 'unknown';
}

function summarizeBody(body: string): string {
  try {
    return summarize(JSON.parse(body));
  } catch {
    return 'malformed';
  }
}

function matcher(match: string | ((q: QueuedEvent) => boolean)): (q: QueuedEvent) => boolean {
  return typeof match === 'string' ? (q) => q.summary === match || q.summary.startsWith(`${match} `) : match;
}

export type { EventBridgeEvent };
