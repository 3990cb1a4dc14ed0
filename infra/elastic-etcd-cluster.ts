// ElasticEtcdCluster: an etcd cluster on an Auto Scaling group that heals itself. Launch and terminate lifecycle
// hooks (declared on the group itself) and a reconcile schedule reach one Lambda through EventBridge and one SQS
// FIFO queue, which serialises them; the Lambda plans each membership change, stores the instance's etcd drop-in
// in SSM Parameter Store, and the instance's boot script starts etcd with it.
import { fileURLToPath } from 'node:url';
import { ArnFormat, AssetHashType, DockerImage, Duration, Fn, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { CLUSTER_DEFAULTS } from '../src/core/defaults.js';
import { parseEtcdVersion } from '../src/core/version.js';
import { TLS_CLIENT_NAME, toEnvironment, upkeepProblems, type EnvironmentInput } from '../src/lambda/config.js';
import { DEFAULT_ETCD_VERSION, resolveEtcdRelease, type EtcdArchitecture, type EtcdRelease } from './etcd-releases.js';
import { BackupBucket, type BackupProps } from './backup-bucket.js';
import { etcdSettingsEnvironment } from './etcd-settings.js';
import { Observability, type AlarmThresholds } from './observability.js';
import { bundleLambdaSync } from './lambda-bundle.js';
import { DEFAULT_RELEASE_BASE_URL, renderBootScript, type EtcdInstall } from './userdata.js';

export const CLIENT_PORT = CLUSTER_DEFAULTS.clientPort;
export const PEER_PORT = CLUSTER_DEFAULTS.peerPort;
export const DATA_DIR = CLUSTER_DEFAULTS.dataDir;
export const LAUNCH_HOOK_NAME = 'elastic-etcd-launch';
export const TERMINATE_HOOK_NAME = 'elastic-etcd-terminate';
/** The single FIFO message group: every lifecycle action and reconcile pass of one cluster, one at a time. */
export const MESSAGE_GROUP_ID = 'elastic-etcd-membership';
/** The Lambda's timeout; the queue's visibility timeout is six times this (AWS's recommendation for SQS sources). */
export const FUNCTION_TIMEOUT = Duration.minutes(5);
/**
 * Receives of one message before the redrive policy moves it to the FIFO dead-letter queue. The Lambda gives a
 * failed message back after 15 s, 30 s, then 60 s per further attempt (src/lambda/sqs.ts, retryDelaySeconds),
 * so 12 receives span about 10 min of retry delays alone: a launch may be retried for its whole heartbeat
 * window (10 min by default; each held attempt also records a heartbeat and waits up to 2 min for the learner),
 * while a poison message still leaves the single message group in bounded time: about 10 min when it fails
 * fast, about 70 min when every attempt runs to the function timeout, and 12 visibility timeouts (6 h) only if
 * the function is killed by its timeout every time (it then cannot shorten the visibility).
 * AWS recommends at least 5 for an SQS event source (Lambda Operator Guide, "Understanding SQS retries").
 */
export const QUEUE_MAX_RECEIVE_COUNT = 12;
/**
 * The tag the Lambda must put on every `<prefix>/<cluster>/instances/<id>/*` parameter, valued with that
 * instance's ARN (`arn:<partition>:ec2:<region>:<account>:instance/<id>`). The instance role may read a
 * parameter only when this tag equals the ARN of the instance its credentials were issued to (see below).
 */
export const INSTANCE_ARN_TAG = 'elastic-etcd:instance-arn';
/** Where the default parameter prefix starts; the stack name follows, so each deployment has its own namespace. */
export const PARAMETER_PREFIX_ROOT = CLUSTER_DEFAULTS.parameterPrefix;
/**
 * The TLS parameters under `<prefix>/<cluster>` (the contract of issue 16): the CA with its key (the Lambda's
 * only), the CA certificate (public), and one client certificate per `grantClient` name.
 */
export const TLS_PARAMETERS = {
  ca: 'tls/ca',
  caCertificate: 'tls/ca-certificate',
  clients: 'tls/clients',
} as const;

const DEFAULT_LAMBDA_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const AVAILABILITY_ZONES = 3;

/** How the instances get etcd; `s3` reads the release tarball from a bucket (e.g. a CDK asset's). */
export type EtcdInstallProp =
  Exclude<EtcdInstall, { method: 's3' }> | { readonly method: 's3'; readonly bucket: s3.IBucket; readonly key: string };

/** The props of {@link ElasticEtcdCluster}; every one is optional. */
export interface ElasticEtcdClusterProps {
  /**
   * The VPC to run in.
   *
   * @default - a new VPC over three Availability Zones with flow logs: public and private (egress, one NAT gateway
   * per AZ) subnets, or only isolated subnets and VPC endpoints when `internetAccess` is false
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Where the etcd instances and the Lambda run.
   *
   * @default - the VPC's private subnets (isolated ones without internet)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Whether the instances and the Lambda can reach the internet. When false they reach AWS only through VPC
   * endpoints (SSM, Auto Scaling, EC2 and SQS interface endpoints and the S3 gateway endpoint), and etcd must come
   * from S3 (`etcdInstall: { method: 's3', ... }`), a mirror inside the network, or the machine image.
   *
   * @default true
   */
  readonly internetAccess?: boolean;
  /**
   * Create the VPC endpoints the instances and the Lambda need.
   *
   * @default - true when `internetAccess` is false
   */
  readonly vpcEndpoints?: boolean;
  /**
   * The cluster's name: part of the parameter path and of the group name. 1-64 letters, digits, `_`, `.`, `-`;
   * must be a literal (not a token).
   *
   * @default 'etcd'
   */
  readonly clusterName?: string;
  /**
   * Parameter Store prefix; parameters live under `<prefix>/<cluster>/`. The namespace must be unique per
   * deployment (the Lambda claims it for its group and refuses another owner). Must be a literal.
   *
   * @default - `/elastic-etcd/<stack name>`
   */
  readonly parameterPrefix?: string;
  /**
   * Number of etcd members (the group's min, max and desired capacity): 3, 5, 7 or 9. Must be a literal: the
   * rollout policy and the quorum depend on it.
   *
   * @default 3
   */
  readonly clusterSize?: number;
  /**
   * Accept 1, 2 or an even number of members. With 1 or 2 a single replacement can never heal (a one-voter
   * cluster cannot grow safely), and an even size adds cost without adding fault tolerance.
   *
   * @default false
   */
  readonly allowUnsafeClusterSize?: boolean;
  /**
   * The members' instance type; its architecture selects the etcd build (amd64 or arm64).
   *
   * @default - t3.small
   */
  readonly instanceType?: ec2.InstanceType;
  /**
   * The members' machine image.
   *
   * @default - the latest Amazon Linux 2023 for the instance type's architecture
   */
  readonly machineImage?: ec2.IMachineImage;
  /**
   * Root volume size in GiB (encrypted gp3; etcd's data lives on it). At least 8.
   *
   * @default 20
   */
  readonly volumeSizeGiB?: number;
  /**
   * The etcd release to install (at least 3.5.20). Changing it rolls the group one member at a time.
   *
   * @default '3.5.30'
   */
  readonly etcdVersion?: string;
  /**
   * The SHA-256 of the release tarball per architecture, for a version not pinned in infra/etcd-releases.ts
   * (take it from the release's SHA256SUMS).
   *
   * @default - the pinned sums
   */
  readonly etcdSha256?: Partial<Record<EtcdArchitecture, string>>;
  /**
   * How the instance installs etcd.
   *
   * @default - the official release tarball from GitHub, checksum-verified
   */
  readonly etcdInstall?: EtcdInstallProp;
  /**
   * Extra etcd settings by flag name without `--`, e.g. `{ 'snapshot-count': '50000' }`. Written as a static
   * drop-in on every member. Settings elastic-etcd owns (name, data dir, URLs, initial-cluster*, discovery*) are
   * refused, and so are the quota and auto-compaction: their props are `quotaBackendBytes` and `autoCompaction`.
   *
   * @default - none
   */
  readonly etcdSettings?: Readonly<Record<string, string>>;
  /**
   * Who else may reach the client port (2379), besides the Lambda and the client security group. The same as
   * `cluster.connections.allowDefaultPortFrom(peer)` for each.
   *
   * @default - none
   */
  readonly clients?: readonly ec2.IPeer[];
  /**
   * How a new member makes room: `replace` removes exactly one dead member when the cluster is full, `prune`
   * removes every dead member, `add` only adds while below the size, `prepare` never changes membership (joins
   * only as a member an admin pre-added). A healthy member is never removed.
   *
   * @default 'replace'
   */
  readonly joinStrategy?: 'replace' | 'prune' | 'add' | 'prepare';
  /**
   * Whether a new member joins as a learner (promoted once it has caught up) or directly as a voter.
   *
   * @default 'learner'
   */
  readonly joinAs?: 'learner' | 'voter';
  /**
   * Per-member health check timeout used by the Lambda.
   *
   * @default Duration.seconds(2)
   */
  readonly healthTimeout?: Duration;
  /**
   * How often the Lambda reconciles membership with the group. Must be shorter than both heartbeat timeouts:
   * a termination held while removing its member would cost the quorum is kept alive by these passes.
   *
   * @default Duration.minutes(2)
   */
  readonly reconcileInterval?: Duration;
  /**
   * How long a launching instance may wait for its join (the launch hook's heartbeat timeout).
   *
   * @default Duration.minutes(10)
   * @see https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html
   */
  readonly launchHeartbeatTimeout?: Duration;
  /**
   * How long a terminating instance is held for its member's removal (the terminate hook's heartbeat timeout).
   *
   * @default Duration.minutes(5)
   * @see https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html
   */
  readonly terminateHeartbeatTimeout?: Duration;
  /**
   * The group's name.
   *
   * @default - `<stack name>-<cluster name>`
   */
  readonly autoScalingGroupName?: string;
  /**
   * The Lambda handler's source file, bundled by infra/lambda-bundle.ts.
   *
   * @default - lambda/handler.ts of this repository
   */
  readonly lambdaEntry?: string;
  /**
   * How long a member may stay unhealthy (hung, crash-looping, never started) on an instance EC2 calls healthy
   * before the Lambda reports the instance Unhealthy (SetInstanceHealth) so the group replaces it, and before a
   * join may remove it (env ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS). Whole seconds, 30 s to 24 h.
   *
   * @default Duration.minutes(5)
   */
  readonly unhealthyAfter?: Duration;
  /**
   * Snapshots to S3 (infra/backup-bucket.ts): a versioned, encrypted, RETAINed bucket the Lambda writes to on its
   * reconcile schedule, under the cluster's name as prefix, and automatic restore of a lost cluster from it;
   * `false` turns backups (and restores) off.
   * @default on: every 30 minutes, each kept 7 days, the first of each UTC day kept 180 days; automatic restore
   * after 10 minutes without an answering member
   */
  readonly backups?: BackupProps | false;
  /**
   * FOR DEVELOPMENT ONLY: members speak plain HTTP, with no certificates on either listener, so anyone who reaches
   * port 2379 can read and write every key, and peer traffic crosses subnets unencrypted. By default every client
   * and peer URL is `https://` with client certificates required on both (infra/README.md, "TLS").
   *
   * @default false
   */
  readonly plainHttp?: boolean;
  /**
   * An e-mail address subscribed to the alarm topic (`alarmTopic`); AWS mails it a confirmation link first.
   *
   * @default - no subscription: subscribe to `alarmTopic` yourself
   */
  readonly alarmEmail?: string;
  /**
   * When the alarms fire (infra/observability.ts, infra/README.md "Alarms and dashboard"); each left out keeps its
   * default.
   *
   * @default - DEFAULT_ALARM_THRESHOLDS: quorum margin <= 0 for 2 passes, drift for 3 passes, a database above
   * 80 % of the quota, 3 missed reconcile passes, any abandoned launch, Lambda error, throttle or dead letter
   */
  readonly alarmThresholds?: Partial<AlarmThresholds>;
  /**
   * etcd's space quota in bytes (--quota-backend-bytes, env ELASTIC_ETCD_QUOTA_BACKEND_BYTES), 1 MiB to 8 GiB. A
   * member whose database grows past it raises NOSPACE and the cluster turns read-only until the reconcile pass has
   * compacted, defragmented and disarmed (infra/README.md, "Upkeep"). Mind the instances' disk.
   *
   * @default 2147483648 (2 GiB, etcd's own default, set explicitly)
   */
  readonly quotaBackendBytes?: number;
  /**
   * etcd's auto-compaction (--auto-compaction-mode and --auto-compaction-retention, env
   * ELASTIC_ETCD_AUTO_COMPACTION_MODE and _RETENTION): `periodic` keeps `retention` of history (a duration such as
   * 1h or 30m), `revision` keeps the last `retention` revisions (a count, required then).
   *
   * @default { mode: 'periodic', retention: '1h' }
   */
  readonly autoCompaction?: { readonly mode: 'periodic' | 'revision'; readonly retention?: string };
}

export class InvalidClusterPropsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidClusterPropsError';
  }
}

/** The props with their defaults applied, validated: what the named construction steps work from. */
interface ResolvedProps {
  readonly clusterName: string;
  readonly prefix: string;
  readonly clusterSize: number;
  readonly launchTimeout: Duration;
  readonly terminateTimeout: Duration;
  readonly reconcileInterval: Duration;
  readonly internetAccess: boolean;
  readonly install: EtcdInstallProp;
  readonly instanceType: ec2.InstanceType;
  readonly architecture: EtcdArchitecture;
  readonly subnets: ec2.SubnetSelection;
  /** The extra etcd settings as the boot script's environment (validated). */
  readonly etcdSettings: Readonly<Record<string, string>>;
  /** `unhealthyAfter` in whole seconds, as the Lambda's environment carries it. */
  readonly unhealthyAfterSeconds: string;
}

/** The three security groups, each port opened on purpose. */
interface SecurityGroups {
  readonly members: ec2.SecurityGroup;
  readonly clients: ec2.SecurityGroup;
  readonly lambda: ec2.SecurityGroup;
}

/** The queue that serialises the Lambda's work, and where what cannot be delivered or handled goes. */
interface Queues {
  readonly queue: sqs.Queue;
  readonly queueDeadLetterQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * An etcd cluster on an Auto Scaling group that heals itself: a launch joins its member safely (learner first,
 * never at the cost of the quorum), a termination removes its member, and a periodic reconcile repairs whatever
 * an event missed. Implements `IConnectable`: `cluster.connections.allowDefaultPortFrom(app)` lets `app` reach
 * the members' client port (2379).
 *
 * Throws `InvalidClusterPropsError` (at synth time, naming the prop) for props it cannot deploy safely.
 */
export class ElasticEtcdCluster extends Construct implements ec2.IConnectable {
  /** The members' network: the client port (2379) is the default port; peers are opened among members only. */
  readonly connections: ec2.Connections;
  /** The VPC the members and the Lambda run in. */
  readonly vpc: ec2.IVpc;
  /** The group of etcd members: min = max = `clusterSize`, rolled one member at a time. */
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  /** The group's name, fixed at synth time (the rules and the Lambda's policies match on it). */
  readonly autoScalingGroupName: string;
  /** The members' launch template (IMDSv2 only, encrypted gp3 root volume, the boot script). */
  readonly launchTemplate: ec2.LaunchTemplate;
  /** The Lambda that plans and makes every membership change. */
  readonly lifecycleFunction: lambda.Function;
  /** Members: peer port between themselves, client port from the Lambda, the client group and `clients`. */
  readonly memberSecurityGroup: ec2.SecurityGroup;
  /** Put etcd clients into this group to let them reach the client port. */
  readonly clientSecurityGroup: ec2.SecurityGroup;
  /** The Lambda's group: out to the members' client port and to HTTPS (the AWS APIs) only. */
  readonly lambdaSecurityGroup: ec2.SecurityGroup;
  /** The FIFO queue that serialises lifecycle actions and reconcile passes into the Lambda. */
  readonly queue: sqs.Queue;
  /** Messages of `queue` the Lambda failed on repeatedly (FIFO, as a FIFO queue's redrive target must be). */
  readonly queueDeadLetterQueue: sqs.Queue;
  /** Events EventBridge could not deliver to `queue` (a standard queue: EventBridge refuses FIFO DLQs). */
  readonly deadLetterQueue: sqs.Queue;
  /** `<prefix>/<cluster>`: the root of this cluster's parameters, unique per deployment. */
  readonly parameterPath: string;
  /** The members' role: reads its own instance's drop-in only (and the etcd tarball from S3 when so installed). */
  readonly instanceRole: iam.Role;
  /** The etcd release the instances install, with its pinned SHA-256. */
  readonly etcdRelease: EtcdRelease;
  /** Where the snapshots go; undefined when `backups` is false. */
  readonly backups?: BackupBucket;
  /** The Lambda's logs: every plan, refusal and membership change. */
  readonly logGroup: logs.LogGroup;
  /**
   * The customer-managed key (rotation on, RETAINed) that encrypts the TLS SecureString parameters: the CA's key,
   * each instance's certificate and key, each client's. Undefined with `plainHttp`.
   */
  readonly tlsKey?: kms.Key;
  /** `<prefix>/<cluster>/tls/ca-certificate`: the cluster CA's certificate (a String parameter, PEM). Undefined with `plainHttp`. */
  readonly caCertificateParameterName?: string;
  /** `<prefix>/<cluster>/tls/clients`: `grantClient(grantee, name)` material is at `<this>/<name>`. Undefined with `plainHttp`. */
  readonly clientParametersPath?: string;
  /** The alarms, their topic and the dashboard (infra/observability.ts). */
  readonly observability: Observability;
  /** Every alarm notifies this KMS-encrypted topic (alarm and OK); the same as `observability.alarmTopic`. */
  readonly alarmTopic: sns.Topic;
  /** What the Lambda's environment is written from; `grantClient` adds to its TLS clients. */
  private readonly environmentInput: EnvironmentInput;
  private readonly tlsClients: string[] = [];

  /** @deprecated use `lifecycleFunction` (the same function, named after its construct ID). */
  get function(): lambda.Function {
    return this.lifecycleFunction;
  }

  constructor(scope: Construct, id: string, props: ElasticEtcdClusterProps = {}) {
    super(scope, id);
    const resolved = this.resolveProps(props);
    this.parameterPath = `${resolved.prefix}/${resolved.clusterName}`;
    this.etcdRelease = resolveEtcdRelease(
      props.etcdVersion ?? DEFAULT_ETCD_VERSION,
      resolved.architecture,
      props.etcdSha256?.[resolved.architecture],
    );
    if (props.plainHttp !== true) {
      this.tlsKey = this.createTlsKey(resolved.clusterName);
      this.caCertificateParameterName = `${this.parameterPath}/${TLS_PARAMETERS.caCertificate}`;
      this.clientParametersPath = `${this.parameterPath}/${TLS_PARAMETERS.clients}`;
    }
    this.vpc = props.vpc ?? this.createVpc(resolved.internetAccess);
    // An explicit name breaks the cycle group -> Lambda env/IAM -> group, and lets the rules match on it.
    this.autoScalingGroupName = props.autoScalingGroupName ?? defaultGroupName(this, resolved.clusterName);

    const groups = this.createSecurityGroups(resolved.clusterName);
    this.memberSecurityGroup = groups.members;
    this.clientSecurityGroup = groups.clients;
    this.lambdaSecurityGroup = groups.lambda;
    this.connections = new ec2.Connections({ securityGroups: [groups.members], defaultPort: ec2.Port.tcp(CLIENT_PORT) });
    this.openPorts(props.clients ?? []);
    const vpcEndpoints = props.vpcEndpoints ?? !resolved.internetAccess;
    if (vpcEndpoints) this.createVpcEndpoints(resolved.subnets);
    // Snapshots go to S3 through a gateway endpoint (free, and no NAT traffic or NAT outage in the path) in the VPC
    // this construct creates; in a VPC of your own that is yours to add (see infra/README.md).
    if (vpcEndpoints || (props.vpc === undefined && props.backups !== false)) this.createS3GatewayEndpoint(resolved.subnets);

    this.instanceRole = this.createInstanceRole(resolved);
    this.launchTemplate = this.createLaunchTemplate(resolved, props);
    this.autoScalingGroup = this.createGroup(resolved);

    ({ queue: this.queue, queueDeadLetterQueue: this.queueDeadLetterQueue, deadLetterQueue: this.deadLetterQueue } = this.createQueues());
    this.logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    if (props.backups !== false) {
      this.backups = new BackupBucket(this, 'Backups', { ...props.backups, prefix: resolved.clusterName, instanceRole: this.instanceRole });
    }
    this.environmentInput = this.lambdaEnvironmentInput(resolved, props);
    this.lifecycleFunction = this.createLifecycleFunction(resolved, props);
    this.backups?.grantLambda(this.lifecycleFunction);
    const rules = this.routeEvents(resolved);
    this.observability = new Observability(this, 'Observability', {
      clusterDimension: this.parameterPath,
      clusterName: resolved.clusterName,
      lifecycleFunction: this.lifecycleFunction,
      deadLetterQueues: { Queue: this.queueDeadLetterQueue, Delivery: this.deadLetterQueue },
      reconcileInterval: resolved.reconcileInterval,
      ...(props.alarmEmail !== undefined && { alarmEmail: props.alarmEmail }),
      ...(props.alarmThresholds !== undefined && { thresholds: props.alarmThresholds }),
    });
    this.alarmTopic = this.observability.alarmTopic;

    // Creation order: everything that must receive the first instances' lifecycle actions exists before the
    // group launches them: the Lambda with its role, policies and event source mapping, the queues with their
    // policies, and the rules.
    this.autoScalingGroup.node.addDependency(this.lifecycleFunction, this.queue, this.queueDeadLetterQueue, this.deadLetterQueue, ...rules);

    this.addNagSuppressions();
  }

  /** Applies the defaults and refuses what cannot be deployed safely, naming the prop. */
  private resolveProps(props: ElasticEtcdClusterProps): ResolvedProps {
    const clusterName = props.clusterName ?? CLUSTER_DEFAULTS.clusterName;
    const prefix = props.parameterPrefix ?? `${PARAMETER_PREFIX_ROOT}/${this.deploymentSegment()}`;
    const clusterSize = props.clusterSize ?? 3;
    validateProps(clusterName, prefix, clusterSize, props);
    const launchTimeout = props.launchHeartbeatTimeout ?? Duration.minutes(10);
    const terminateTimeout = props.terminateHeartbeatTimeout ?? Duration.minutes(5);
    const reconcileInterval = props.reconcileInterval ?? Duration.minutes(2);
    if (
      !isUnresolvedDuration(reconcileInterval, launchTimeout, terminateTimeout) &&
      reconcileInterval.toSeconds() >= Math.min(launchTimeout.toSeconds(), terminateTimeout.toSeconds())
    ) {
      throw new InvalidClusterPropsError(
        `reconcileInterval (${reconcileInterval.toHumanString()}) must be shorter than both lifecycle heartbeat timeouts, which its passes keep alive`,
      );
    }
    const internetAccess = props.internetAccess ?? true;
    const install: EtcdInstallProp = props.etcdInstall ?? { method: 'release' };
    if (!internetAccess && install.method === 'release' && (install.baseUrl ?? DEFAULT_RELEASE_BASE_URL) === DEFAULT_RELEASE_BASE_URL) {
      throw new InvalidClusterPropsError(
        "internetAccess is false but etcd would be downloaded from GitHub: use etcdInstall { method: 's3', ... }, a mirror reachable inside the network ({ method: 'release', baseUrl }), or an image with etcd ({ method: 'preinstalled' })",
      );
    }
    const instanceType = props.instanceType ?? defaultInstanceType();
    const architecture: EtcdArchitecture = instanceType.architecture === ec2.InstanceArchitecture.ARM_64 ? 'arm64' : 'amd64';
    const subnets = props.vpcSubnets ?? {
      subnetType: internetAccess ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED,
    };
    return {
      clusterName,
      prefix,
      clusterSize,
      launchTimeout,
      terminateTimeout,
      reconcileInterval,
      internetAccess,
      install,
      instanceType,
      architecture,
      subnets,
      etcdSettings: etcdSettingsEnvironment(props.etcdSettings ?? {}),
      unhealthyAfterSeconds: unhealthyAfterSeconds(props.unhealthyAfter),
    };
  }

  /** The members', the clients' and the Lambda's security groups, all without default egress. */
  private createSecurityGroups(clusterName: string): SecurityGroups {
    const group = (id: string, description: string) =>
      new ec2.SecurityGroup(this, id, { vpc: this.vpc, description, allowAllOutbound: false });
    return {
      members: group('MemberSecurityGroup', `etcd members of ${clusterName}`),
      clients: group('ClientSecurityGroup', `etcd clients of ${clusterName}`),
      lambda: group('LambdaSecurityGroup', `elastic-etcd lifecycle Lambda of ${clusterName}`),
    };
  }

  /** Every port opened on purpose: peers among members, the client port for the Lambda and the clients. */
  private openPorts(clients: readonly ec2.IPeer[]): void {
    const clientPort = ec2.Port.tcp(CLIENT_PORT);
    const https = ec2.Port.tcp(443);
    this.connections.allowInternally(ec2.Port.tcp(PEER_PORT), 'etcd peer traffic between members');
    this.connections.allowFrom(this.lambdaSecurityGroup, clientPort, 'the lifecycle Lambda manages membership');
    this.connections.allowFrom(this.clientSecurityGroup, clientPort, 'declared etcd clients');
    for (const client of clients) this.connections.allowDefaultPortFrom(client, 'declared etcd client');
    // The Lambda reaches the members' client port, and nothing else inside the VPC.
    this.lambdaSecurityGroup.connections.allowTo(this.memberSecurityGroup, clientPort, 'etcd membership API');
    this.clientSecurityGroup.connections.allowTo(this.memberSecurityGroup, clientPort, 'etcd client API');
    // HTTPS out for SSM, the etcd download (GitHub, a mirror or S3) and the OS's package mirrors; through the NAT
    // gateways, or to the VPC endpoints when there is no internet.
    this.memberSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'AWS APIs and the etcd release download');
    // HTTPS out for the AWS APIs (Auto Scaling, EC2, SSM).
    this.lambdaSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'AWS APIs');
  }

  /** The members' role: each instance may read its own drop-in only (and the etcd tarball, when it comes from S3). */
  private createInstanceRole(resolved: ResolvedProps): iam.Role {
    const role = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `etcd member of ${resolved.clusterName}: reads its own drop-in only`,
    });
    // A policy variable that expands to the bare instance ID does not exist, and SSM parameter names cannot hold
    // the instance ARN (no ':'), so the path alone cannot say "your own". What IAM does give every credential
    // issued to an EC2 instance is `ec2:SourceInstanceARN`, usable as the policy variable
    // ${ec2:SourceInstanceARN}. The Lambda tags each instance parameter with its instance's ARN, and this
    // statement allows a read only when that tag equals the caller's own instance ARN. Another instance's
    // parameters carry another ARN, and an untagged parameter matches nothing: denied, fail safe.
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadOwnInstanceParameters',
        actions: ['ssm:GetParameter'],
        resources: [this.parameterArn(`${this.parameterPath}/instances/*`)],
        conditions: { StringEquals: { [`ssm:resourceTag/${INSTANCE_ARN_TAG}`]: '${ec2:SourceInstanceARN}' } },
      }),
    );
    if (this.tlsKey !== undefined) {
      // Its own instances/<id>/tls is read by the statement above (tag-scoped); SSM decrypts it with this key
      // under the encryption context PARAMETER_ARN = that parameter's ARN, so the instance may decrypt with the
      // key only for parameters under instances/ (never the CA's or a client's). The CA certificate is public.
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptOwnInstanceParameters',
          actions: ['kms:Decrypt'],
          resources: [this.tlsKey.keyArn],
          conditions: {
            StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': this.parameterArn(`${this.parameterPath}/instances/*`) },
            StringEquals: { 'kms:ViaService': this.ssmService() },
          },
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadCaCertificate',
          actions: ['ssm:GetParameter'],
          resources: [this.parameterArn(this.caCertificateParameterName ?? fail('no CA certificate parameter'))],
        }),
      );
    }
    const install = resolved.install;
    if (install.method === 's3') {
      // Exactly the one object, nothing else in the bucket.
      role.addToPolicy(
        new iam.PolicyStatement({
          sid: 'ReadEtcdTarball',
          actions: ['s3:GetObject'],
          resources: [install.bucket.arnForObjects(install.key)],
        }),
      );
      install.bucket.encryptionKey?.grantDecrypt(role);
    }
    return role;
  }

  /** The members' launch template: the boot script that installs etcd and starts it with its drop-in. */
  private createLaunchTemplate(resolved: ResolvedProps, props: ElasticEtcdClusterProps): ec2.LaunchTemplate {
    const install = resolved.install;
    const machineImage =
      props.machineImage ??
      ec2.MachineImage.latestAmazonLinux2023({
        cpuType: resolved.architecture === 'arm64' ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
      });
    const bootScript = renderBootScript({
      parameterPath: this.parameterPath,
      release: this.etcdRelease,
      install: install.method === 's3' ? { method: 's3', bucket: install.bucket.bucketName, key: install.key } : install,
      dropinWaitSeconds: maxLaunchWaitSeconds(resolved.launchTimeout.toSeconds()),
      settings: resolved.etcdSettings,
    });
    return new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: resolved.instanceType,
      machineImage,
      userData: ec2.UserData.custom(bootScript),
      role: this.instanceRole,
      securityGroup: this.memberSecurityGroup,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(props.volumeSizeGiB ?? 20, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            deleteOnTermination: true,
          }),
        },
      ],
    });
  }

  /** The group of members, its rolling-update policy, and the launch and terminate hooks declared on it. */
  private createGroup(resolved: ResolvedProps): autoscaling.AutoScalingGroup {
    const group = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: this.vpc,
      vpcSubnets: resolved.subnets,
      launchTemplate: this.launchTemplate,
      autoScalingGroupName: this.autoScalingGroupName,
      minCapacity: resolved.clusterSize,
      // No desiredCapacity: min = max already fixes the size, and a desired count would be reset on every deploy.
      maxCapacity: resolved.clusterSize,
      // Rollouts: a change of the launch template (etcd version, AMI, instance type, user data) replaces the
      // members through CloudFormation's AutoScalingRollingUpdate, chosen over instance refresh after the AWS docs:
      // - the AutoScalingRollingUpdate policy (CloudFormation User Guide, "UpdatePolicy attribute") replaces
      //   MaxBatchSize instances at a time while keeping MinInstancesInService in service. With 1 and size - 1 it
      //   terminates one old member, then launches its replacement, and goes on only once that replacement is
      //   InService. Terminate-first keeps the group at most `clusterSize` members, the target the Lambda plans for.
      // - An instance stays in Pending:Wait until its launch lifecycle action completes (Auto Scaling User Guide,
      //   "Amazon EC2 Auto Scaling lifecycle hooks"), and the Lambda completes it with CONTINUE only once the new
      //   member is a promoted, healthy voter; a termination is held (heartbeats) while removing a voter would
      //   leave too few. So "InService" means "a healthy voter", and the next old member goes only after it.
      // - Instance refresh (StartInstanceRefresh) is started by an API call, not by a template change, unless a
      //   newer CloudFormation update policy drives it; its default launch-before-terminate (MaxHealthyPercentage
      //   110) would also run clusterSize + 1 members. The rolling update needs neither.
      // The processes that could replace or move instances behind the update's back are suspended during it
      // (AWS's recommended list: HealthCheck, ReplaceUnhealthy, AZRebalance, AlarmNotification, ScheduledActions).
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: resolved.clusterSize - 1,
        waitOnResourceSignals: false,
        suspendProcesses: [
          autoscaling.ScalingProcess.HEALTH_CHECK,
          autoscaling.ScalingProcess.REPLACE_UNHEALTHY,
          autoscaling.ScalingProcess.AZ_REBALANCE,
          autoscaling.ScalingProcess.ALARM_NOTIFICATION,
          autoscaling.ScalingProcess.SCHEDULED_ACTIONS,
        ],
      }),
    });

    // The hooks are part of the group itself (LifecycleHookSpecificationList), not separate
    // AWS::AutoScaling::LifecycleHook resources: CloudFormation creates those only after the group has launched
    // its first instances, and a hook applies only to transitions after it exists, so the first members would
    // go InService unseen. Fail safe: a launch nobody confirmed is abandoned (the instance never joins and is
    // replaced); a terminate nobody handled continues (the machine goes regardless; reconcile removes its member).
    const cfnGroup = group.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    cfnGroup.lifecycleHookSpecificationList = [
      {
        lifecycleHookName: LAUNCH_HOOK_NAME,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        heartbeatTimeout: resolved.launchTimeout.toSeconds(),
        defaultResult: 'ABANDON',
      },
      {
        lifecycleHookName: TERMINATE_HOOK_NAME,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        heartbeatTimeout: resolved.terminateTimeout.toSeconds(),
        defaultResult: 'CONTINUE',
      },
    ];
    return group;
  }

  /** The serialising FIFO queue and the two dead-letter queues. */
  private createQueues(): Queues {
    // EventBridge -> one SQS FIFO queue with one message group -> the Lambda, batch size 1: at most one message
    // of the group is in flight, so membership changes never overlap, and no reserved concurrency is needed
    // (fresh accounts with a concurrency quota of 10 refuse any reservation).
    // Sources: EventBridge can target a FIFO queue when the target sets SqsParameters.MessageGroupId (EventBridge
    // User Guide, "Amazon SQS queue target"; EventBridge API "Target.SqsParameters" and CloudFormation
    // "AWS::Events::Rule SqsParameters", a property of every rule target, scheduled rules included); the queue
    // needs content-based deduplication or a MessageDeduplicationId. A FIFO queue's dead-letter queue must be FIFO too (SQS Developer Guide), while an
    // EventBridge target's dead-letter queue must be a standard queue ("SQS FIFO is not supported by Dead Letter
    // Queues"), hence two. The visibility timeout is six times the function timeout (Lambda Developer Guide,
    // "Using Lambda with Amazon SQS").
    const queueDeadLetterQueue = new sqs.Queue(this, 'QueueDeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      // Each event carries its own id and time, so only a true redelivery of the same event is dropped.
      contentBasedDeduplication: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * FUNCTION_TIMEOUT.toSeconds()),
      // A message that fails this often blocks the group no longer; reconcile repairs what it would have done.
      deadLetterQueue: { queue: queueDeadLetterQueue, maxReceiveCount: QUEUE_MAX_RECEIVE_COUNT },
    });
    const deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    return { queue, queueDeadLetterQueue, deadLetterQueue };
  }

  /** The Lambda, bundled by infra/lambda-bundle.ts, fed by the queue one message at a time. */
  private createLifecycleFunction(resolved: ResolvedProps, props: ElasticEtcdClusterProps): lambda.Function {
    const fn = new lambda.Function(this, 'LifecycleFunction', {
      code: bundledCode(props.lambdaEntry ?? DEFAULT_LAMBDA_ENTRY),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      vpc: this.vpc,
      vpcSubnets: resolved.subnets,
      securityGroups: [this.lambdaSecurityGroup],
      logGroup: this.logGroup,
      environment: this.lambdaEnvironment(resolved),
    });
    // Batch size 1 and partial batch responses: a record that fails is made visible again after a short retry
    // delay (sqs:ChangeMessageVisibility, which the event source grants along with receive and delete) and reported.
    fn.addEventSource(new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }));
    this.grantLambda(fn.role ?? fail('the function has no role'));
    return fn;
  }

  /**
   * Lets `grantee` read the client certificate named `name` (CN = name), which the Lambda issues and renews into
   * `<prefix>/<cluster>/tls/clients/<name>` (a SecureString: JSON `{format, caCertificate, certificate,
   * privateKey, notAfter}`), and the CA certificate: GetParameter on those two parameters and kms:Decrypt for the
   * first one only. The name is added to the Lambda's `ELASTIC_ETCD_TLS_CLIENTS`; granting one name to several
   * grantees is allowed (they share the certificate). Throws `InvalidClusterPropsError` for a bad name or with
   * `plainHttp`.
   *
   * @param name 1-63 of a-z 0-9 -, starting with a letter or digit
   */
  grantClient(grantee: iam.IGrantable, name: string): iam.Grant {
    if (this.tlsKey === undefined || this.clientParametersPath === undefined || this.caCertificateParameterName === undefined) {
      throw new InvalidClusterPropsError(
        `grantClient(${JSON.stringify(name)}): the cluster runs plainHttp, there are no client certificates`,
      );
    }
    if (Token.isUnresolved(name) || !TLS_CLIENT_NAME.test(name)) {
      throw new InvalidClusterPropsError(
        `grantClient(${JSON.stringify(name)}): a client name is 1-63 of a-z 0-9 -, starting with a letter or digit, and a literal`,
      );
    }
    if (!this.tlsClients.includes(name)) {
      this.tlsClients.push(name);
      const tls = this.environmentInput.tls === false ? undefined : this.environmentInput.tls;
      const env = toEnvironment({ ...this.environmentInput, tls: { ...tls, clients: [...this.tlsClients] } });
      this.lifecycleFunction.addEnvironment('ELASTIC_ETCD_TLS_CLIENTS', env.ELASTIC_ETCD_TLS_CLIENTS ?? fail('no client list written'));
    }
    const parameter = this.parameterArn(`${this.clientParametersPath}/${name}`);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter'],
      resourceArns: [parameter, this.parameterArn(this.caCertificateParameterName)],
    }).combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['kms:Decrypt'],
        resourceArns: [this.tlsKey.keyArn],
        conditions: {
          StringEquals: { 'kms:EncryptionContext:PARAMETER_ARN': parameter, 'kms:ViaService': this.ssmService() },
        },
      }),
    );
  }

  /** The Lambda's configuration: the `ELASTIC_ETCD_*` contract that src/lambda/config.ts reads. */
  private lambdaEnvironment(resolved: ResolvedProps): Record<string, string> {
    return {
      NODE_OPTIONS: '--enable-source-maps',
      ...toEnvironment(this.environmentInput),
      // A CloudFormation parameter's token cannot go through the writer's arithmetic: written as seconds as given.
      ...(this.backups !== undefined &&
        Token.isUnresolved(this.backups.restoreAfterSeconds) && { ELASTIC_ETCD_RESTORE_AFTER_SECONDS: this.backups.restoreAfterSeconds }),
      // Written as whole seconds as given: `unhealthyAfter` may be a CloudFormation parameter, whose token
      // cannot go through the writer's milliseconds-to-seconds arithmetic.
      ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: resolved.unhealthyAfterSeconds,
    };
  }

  /** What `lambdaEnvironment` writes through toEnvironment. */
  private lambdaEnvironmentInput(resolved: ResolvedProps, props: ElasticEtcdClusterProps): EnvironmentInput {
    return {
      clusterName: resolved.clusterName,
      parameterPrefix: resolved.prefix,
      autoScalingGroup: this.autoScalingGroupName,
      clientPort: CLIENT_PORT,
      peerPort: PEER_PORT,
      clusterSize: resolved.clusterSize,
      joinStrategy: props.joinStrategy ?? CLUSTER_DEFAULTS.joinStrategy,
      joinAs: props.joinAs ?? CLUSTER_DEFAULTS.joinAs,
      dataDir: DATA_DIR,
      launchHook: LAUNCH_HOOK_NAME,
      terminateHook: TERMINATE_HOOK_NAME,
      healthTimeoutMs: (props.healthTimeout ?? Duration.millis(CLUSTER_DEFAULTS.healthTimeoutMs)).toMilliseconds(),
      // The version every member installs, for the Lambda's version-skew check.
      etcdVersion: parseEtcdVersion(this.etcdRelease.version),
      ...(this.backups !== undefined && {
        backup: {
          bucket: this.backups.bucket.bucketName,
          prefix: this.backups.prefix,
          intervalMs: this.backups.intervalSeconds * 1000,
          autoRestore: this.backups.autoRestore,
          ...(!Token.isUnresolved(this.backups.restoreAfterSeconds) && {
            restoreAfterMs: Number(this.backups.restoreAfterSeconds) * 1000,
          }),
        },
      }),
      // TLS on by default: the SecureStrings under this stack's key; plain HTTP only when asked for.
      tls: this.tlsKey === undefined ? false : { kmsKeyId: this.tlsKey.keyArn },
      ...upkeepInput(props),
    };
  }

  /** Both lifecycle actions and the reconcile schedule, into the queue (one message group). */
  private routeEvents(resolved: ResolvedProps): events.Rule[] {
    const target = new targets.SqsQueue(this.queue, {
      messageGroupId: MESSAGE_GROUP_ID,
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 8,
      // Older than the launch hook's timeout is too late to act on: the hook has already timed out.
      maxEventAge: Duration.seconds(Math.max(60, resolved.launchTimeout.toSeconds())),
    });
    return [
      new events.Rule(this, 'LaunchRule', {
        description: `elastic-etcd: ${this.autoScalingGroupName} launch lifecycle action`,
        eventPattern: this.lifecyclePattern('EC2 Instance-launch Lifecycle Action', LAUNCH_HOOK_NAME),
        targets: [target],
      }),
      new events.Rule(this, 'TerminateRule', {
        description: `elastic-etcd: ${this.autoScalingGroupName} terminate lifecycle action`,
        eventPattern: this.lifecyclePattern('EC2 Instance-terminate Lifecycle Action', TERMINATE_HOOK_NAME),
        targets: [target],
      }),
      new events.Rule(this, 'ReconcileRule', {
        description: `elastic-etcd: reconcile ${resolved.clusterName} with its group`,
        schedule: events.Schedule.rate(resolved.reconcileInterval),
        targets: [target],
      }),
    ];
  }

  /** The part of the default namespace that makes it unique per deployment: the stack's name. */
  private deploymentSegment(): string {
    const stackName = Stack.of(this).stackName;
    if (!Token.isUnresolved(stackName) && /^[A-Za-z0-9_.-]{1,64}$/.test(stackName)) return stackName;
    return Names.uniqueResourceName(this, { maxLength: 64, separator: '-' });
  }

  private createVpc(internetAccess: boolean): ec2.Vpc {
    const stack = Stack.of(this);
    // An environment-agnostic stack knows no AZ names (CDK would pick 2): select three with Fn::GetAZs.
    const zones = Token.isUnresolved(stack.region)
      ? { availabilityZones: Array.from({ length: AVAILABILITY_ZONES }, (_, i) => Fn.select(i, Fn.getAzs())) }
      : { maxAzs: AVAILABILITY_ZONES };
    if (!Token.isUnresolved(stack.region) && stack.availabilityZones.length < AVAILABILITY_ZONES) {
      throw new InvalidClusterPropsError(
        `region ${stack.region} offers ${stack.availabilityZones.length} Availability Zones to this stack; the default VPC needs ${AVAILABILITY_ZONES} so one AZ outage cannot take the quorum (pass your own vpc to override)`,
      );
    }
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ...zones,
      // One NAT gateway per AZ: the Lambda needs the AWS APIs exactly when an AZ is failing.
      ...(internetAccess
        ? {
            subnetConfiguration: [
              { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
              { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
            ],
          }
        : { natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }] }),
    });
    vpc.addFlowLog('FlowLog');
    return vpc;
  }

  /**
   * The endpoints for subnets without internet: SSM (the instances read their drop-ins, the Lambda writes them),
   * Auto Scaling and EC2 (the Lambda completes lifecycle actions and describes instances), SQS (the Lambda gives a
   * failed queue message back early with ChangeMessageVisibility; the polling itself is the Lambda service's); the
   * S3 gateway endpoint comes with them (createS3GatewayEndpoint).
   */
  private createVpcEndpoints(subnets: ec2.SubnetSelection): void {
    const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
      ['SsmEndpoint', ec2.InterfaceVpcEndpointAwsService.SSM],
      ['AutoScalingEndpoint', ec2.InterfaceVpcEndpointAwsService.AUTOSCALING],
      ['Ec2Endpoint', ec2.InterfaceVpcEndpointAwsService.EC2],
      ['SqsEndpoint', ec2.InterfaceVpcEndpointAwsService.SQS],
    ];
    for (const [id, service] of services) {
      const endpoint = new ec2.InterfaceVpcEndpoint(this, id, { vpc: this.vpc, service, subnets, privateDnsEnabled: true, open: false });
      endpoint.connections.allowFrom(this.memberSecurityGroup, ec2.Port.tcp(443), 'etcd members call AWS APIs');
      endpoint.connections.allowFrom(this.lambdaSecurityGroup, ec2.Port.tcp(443), 'the lifecycle Lambda calls AWS APIs');
    }
  }

  /** The S3 gateway endpoint on the route tables of the members' and the Lambda's subnets (tarball, snapshots). */
  private createS3GatewayEndpoint(subnets: ec2.SubnetSelection): void {
    new ec2.GatewayVpcEndpoint(this, 'S3Endpoint', { vpc: this.vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [subnets] });
  }

  private lifecyclePattern(detailType: string, hookName: string): events.EventPattern {
    return {
      source: ['aws.autoscaling'],
      detailType: [detailType],
      detail: { AutoScalingGroupName: [this.autoScalingGroupName], LifecycleHookName: [hookName] },
    };
  }

  private parameterArn(path: string): string {
    // formatArn adds the '/' between "parameter" and the name; the path already starts with one.
    return Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: path.replace(/^\//, ''),
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /** SSM's service name in this stack's region and partition, for kms:ViaService. */
  private ssmService(): string {
    const stack = Stack.of(this);
    return `ssm.${stack.region}.${stack.urlSuffix}`;
  }

  /**
   * The key of the TLS SecureStrings. Customer managed, so that its use can be limited per parameter (the
   * instance and client grants name the encryption context) and audited; rotated yearly by KMS. RETAINed: the
   * parameters the Lambda wrote outlive the stack, and without the key they could never be read or cleaned up.
   */
  private createTlsKey(clusterName: string): kms.Key {
    return new kms.Key(this, 'TlsKey', {
      description: `elastic-etcd ${clusterName}: TLS SecureString parameters (CA key, member and client certificates)`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private grantLambda(role: iam.IRole): void {
    const stack = Stack.of(this);
    const groupArn = stack.formatArn({
      service: 'autoscaling',
      resource: 'autoScalingGroup',
      resourceName: `*:autoScalingGroupName/${this.autoScalingGroupName}`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'ClusterParameters',
        actions: [
          'ssm:GetParameter',
          'ssm:GetParameters',
          'ssm:GetParametersByPath',
          'ssm:PutParameter',
          'ssm:DeleteParameter',
          'ssm:DeleteParameters',
          // Tagging instance parameters with their instance's ARN (INSTANCE_ARN_TAG), at creation or after.
          'ssm:AddTagsToResource',
          // Reading those tags back: reconcile deletes only parameters its own group wrote.
          'ssm:ListTagsForResource',
        ],
        // The path itself too: GetParametersByPath on `<prefix>/<cluster>` is authorised against that ARN.
        resources: [this.parameterArn(this.parameterPath), this.parameterArn(`${this.parameterPath}/*`)],
      }),
    );
    if (this.tlsKey !== undefined) {
      // The SecureStrings (CA key, instance and client certificates) under this deployment's parameters only:
      // SSM encrypts and decrypts with the encryption context PARAMETER_ARN (GenerateDataKey for an advanced one).
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'EncryptClusterSecureStrings',
          actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [this.tlsKey.keyArn],
          conditions: {
            StringLike: { 'kms:EncryptionContext:PARAMETER_ARN': this.parameterArn(`${this.parameterPath}/*`) },
            StringEquals: { 'kms:ViaService': this.ssmService() },
          },
        }),
      );
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CompleteOwnLifecycleActions',
        actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        resources: [groupArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // A member unhealthy past unhealthyAfter on an InService instance: the group replaces the instance.
        sid: 'ReportOwnInstancesUnhealthy',
        actions: ['autoscaling:SetInstanceHealth'],
        resources: [groupArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'DescribeGroupAndInstances',
        actions: [
          'autoscaling:DescribeAutoScalingGroups',
          'autoscaling:DescribeAutoScalingInstances',
          'autoscaling:DescribeLifecycleHooks',
          'ec2:DescribeInstances',
        ],
        resources: ['*'],
      }),
    );
  }

  // cdk-nag (AwsSolutions) acknowledgements, each narrowed to the one finding it explains.
  private addNagSuppressions(): void {
    const lambdaRole = this.lifecycleFunction.role ?? fail('the function has no role');
    // cdk-nag names findings by the ARN as synthesised: pseudo parameters where the environment is unknown.
    const stack = Stack.of(this);
    const pseudo = (value: string, name: string): string => (Token.isUnresolved(value) ? `<AWS::${name}>` : value);
    const env = `${pseudo(stack.partition, 'Partition')}:%s:${pseudo(stack.region, 'Region')}:${pseudo(stack.account, 'AccountId')}`;
    const arnPrefix = (service: string): string => `arn:${env.replace('%s', service)}`;
    const ssmArn = (path: string): string => `${arnPrefix('ssm')}:parameter${path}`;
    acknowledge(
      lambdaRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWS managed basic-execution policy: the function writes its logs, nothing more.',
    );
    acknowledge(
      lambdaRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'AWS managed VPC-access policy: the network interfaces a function in a VPC needs, nothing more.',
    );
    acknowledge(
      lambdaRole,
      'AwsSolutions-IAM5[Resource::*]',
      'autoscaling:Describe* and ec2:DescribeInstances support no resource-level permissions; "*" is the only resource they accept.',
    );
    acknowledge(
      lambdaRole,
      `AwsSolutions-IAM5[Resource::${ssmArn(`${this.parameterPath}/*`)}]`,
      "The Lambda manages this deployment's parameters, which all live under <prefix>/<cluster>/ and nowhere else.",
    );
    acknowledge(
      lambdaRole,
      `AwsSolutions-IAM5[Resource::${arnPrefix('autoscaling')}:autoScalingGroup:*:autoScalingGroupName/${this.autoScalingGroupName}]`,
      'Lifecycle actions of this group only: its ARN holds a generated UUID, so the group is matched by its fixed name.',
    );
    acknowledge(
      this.instanceRole,
      `AwsSolutions-IAM5[Resource::${ssmArn(`${this.parameterPath}/instances/*`)}]`,
      "Instance IDs are not known in advance; the ec2:SourceInstanceARN tag condition narrows the wildcard to the caller's own parameters.",
    );
    acknowledge(
      this.lifecycleFunction,
      'AwsSolutions-L1',
      'nodejs22.x is the runtime this project targets and tests (its code also runs on Node.js 20); upgrades are deliberate.',
    );
    acknowledge(
      this.deadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the three EventBridge rule targets (EventBridge accepts only standard queues there).',
    );
    acknowledge(
      this.queueDeadLetterQueue,
      'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue (redrive target) of the serialising FIFO queue.',
    );
    acknowledge(
      this.autoScalingGroup,
      'AwsSolutions-AS3',
      'Scaling events reach EventBridge as lifecycle actions and are handled by the Lambda; failures land in the dead-letter queues.',
    );
  }
}

/**
 * The Lambda's code: `entry` bundled by infra/lambda-bundle.ts (the options `npm run bench` measures), as an asset
 * hashed by its output. The bundling runs locally, as NodejsFunction's does without Docker; its plugin needs
 * esbuild's JavaScript API, which NodejsFunction's command-line bundling cannot use. The image is required by the
 * API and never started, since the local bundling either succeeds or throws.
 */
function bundledCode(entry: string): lambda.Code {
  return lambda.Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('dummy'),
      local: {
        tryBundle(outputDir: string): boolean {
          bundleLambdaSync(entry, outputDir);
          return true;
        },
      },
    },
  });
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

function defaultInstanceType(): ec2.InstanceType {
  return ec2.InstanceType.of(ec2.InstanceClass.T3, ec2.InstanceSize.SMALL);
}

function defaultGroupName(scope: Construct, clusterName: string): string {
  const stackName = Stack.of(scope).stackName;
  if (!Token.isUnresolved(stackName)) return `${stackName}-${clusterName}`;
  return Names.uniqueResourceName(scope, { maxLength: 200, separator: '-' });
}

function validateProps(clusterName: string, prefix: string, clusterSize: number, props: ElasticEtcdClusterProps): void {
  // These values are baked into IAM policies, the boot script and the rollout policy: they must be literals. Other
  // values may be deploy-time tokens (e.g. a CloudFormation parameter); their checks are skipped, as CDK's own are.
  for (const [name, value] of [
    ['clusterName', clusterName],
    ['parameterPrefix', prefix],
    ['etcdVersion', props.etcdVersion ?? DEFAULT_ETCD_VERSION],
  ] as const) {
    if (Token.isUnresolved(value))
      throw new InvalidClusterPropsError(`${name} must be known at synth time (a literal), not a deploy-time token`);
  }
  if (props.launchHeartbeatTimeout?.isUnresolved() === true) {
    throw new InvalidClusterPropsError(
      'launchHeartbeatTimeout must be known at synth time (a literal), not a deploy-time token: the boot script waits that long for its drop-in',
    );
  }
  if (Token.isUnresolved(clusterSize)) {
    throw new InvalidClusterPropsError(
      'clusterSize must be known at synth time (a literal), not a deploy-time token: the rollout policy and quorum depend on it',
    );
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(clusterName) || clusterName === '.' || clusterName === '..') {
    throw new InvalidClusterPropsError(`clusterName ${JSON.stringify(clusterName)}: use 1-64 letters, digits, _ . -`);
  }
  if (
    !/^(\/[A-Za-z0-9_.-]{1,64})+$/.test(prefix) ||
    prefix.length > 512 ||
    prefix.toLowerCase().startsWith('/aws') ||
    prefix.toLowerCase().startsWith('/ssm')
  ) {
    throw new InvalidClusterPropsError(
      `parameterPrefix ${JSON.stringify(prefix)}: expected /segment[/segment...] not starting with /aws or /ssm`,
    );
  }
  if (!Number.isInteger(clusterSize) || clusterSize < 1 || clusterSize > 9) {
    throw new InvalidClusterPropsError(`clusterSize ${clusterSize}: expected a whole number from 1 to 9`);
  }
  if ((clusterSize < 3 || clusterSize % 2 === 0) && props.allowUnsafeClusterSize !== true) {
    throw new InvalidClusterPropsError(
      clusterSize < 3
        ? `clusterSize ${clusterSize}: with fewer than 3 members one lost member can never be replaced safely (a one-voter cluster cannot grow); use 3, 5, 7 or 9, or set allowUnsafeClusterSize`
        : `clusterSize ${clusterSize}: an even size tolerates no more failures than ${clusterSize - 1} and costs one more machine; use ${clusterSize - 1} or ${clusterSize + 1}, or set allowUnsafeClusterSize`,
    );
  }
  const volume = props.volumeSizeGiB;
  if (volume !== undefined && !Token.isUnresolved(volume) && (!Number.isInteger(volume) || volume < 8)) {
    throw new InvalidClusterPropsError(`volumeSizeGiB ${volume}: expected a whole number of at least 8`);
  }
}

/** unhealthyAfter in whole seconds, 30 s to 24 h (validated at synth time unless it is a token). */
function unhealthyAfterSeconds(value: Duration | undefined): string {
  if (value?.isUnresolved() === true) return Token.asString(value.toSeconds());
  const seconds = (value ?? Duration.seconds(CLUSTER_DEFAULTS.unhealthyAfterSeconds)).toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 30 || seconds > 86_400) {
    throw new InvalidClusterPropsError(
      `unhealthyAfter ${value?.toHumanString() ?? ''}: expected whole seconds from 30 seconds to 24 hours`,
    );
  }
  return String(seconds);
}

/** True when any of these durations is a deploy-time token: its value cannot be compared at synth time. */
function isUnresolvedDuration(...durations: readonly Duration[]): boolean {
  return durations.some((duration) => duration.isUnresolved());
}

function fail(message: string): never {
  throw new Error(message);
}

/**
 * How long a launching instance may wait for its drop-in: as long as its launch action can stay pending. The
 * Lambda keeps the action alive with heartbeats while it waits (a restore waits for the cluster to have been
 * down long enough), and Auto Scaling ends a pending action after 100 heartbeat timeouts or 48 hours, whichever
 * comes first. A boot that gave up earlier would leave an instance the Lambda then configures with no etcd.
 * @see https://docs.aws.amazon.com/autoscaling/ec2/userguide/lifecycle-hooks.html
 */
export function maxLaunchWaitSeconds(heartbeatTimeoutSeconds: number): number {
  return Math.min(100 * heartbeatTimeoutSeconds, 48 * 3600);
}

/** The quota and auto-compaction props as the Lambda's environment carries them; bad ones fail the synth. */
function upkeepInput(props: ElasticEtcdClusterProps): Pick<EnvironmentInput, 'quotaBackendBytes' | 'autoCompaction'> {
  const input = {
    ...(props.quotaBackendBytes !== undefined && { quotaBackendBytes: props.quotaBackendBytes }),
    ...(props.autoCompaction !== undefined && { autoCompaction: props.autoCompaction }),
  };
  const problems = upkeepProblems(input);
  if (problems.length > 0) {
    const prop = (variable: string): string => (variable === 'ELASTIC_ETCD_QUOTA_BACKEND_BYTES' ? 'quotaBackendBytes' : 'autoCompaction');
    throw new InvalidClusterPropsError(
      problems.map((p) => `${prop(p.variable)}: ${JSON.stringify(p.received ?? null)} is invalid, expected ${p.expected}`).join('; '),
    );
  }
  return input;
}
