// ElasticEtcdCluster: an etcd cluster on an Auto Scaling group that heals itself. Launch and terminate lifecycle
// hooks (declared on the group itself) and a reconcile schedule reach one Lambda through EventBridge and one SQS
// FIFO queue, which serialises them; the Lambda plans each membership change, stores the instance's etcd drop-in
// in SSM Parameter Store, and the instance's boot script starts etcd with it.
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Fn, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { CLUSTER_DEFAULTS } from '../src/core/defaults.js';
import { parseEtcdVersion } from '../src/core/version.js';
import { toEnvironment } from '../src/lambda/config.js';
import { DEFAULT_ETCD_VERSION, resolveEtcdRelease, type EtcdArchitecture, type EtcdRelease } from './etcd-releases.js';
import { etcdSettingsEnvironment } from './etcd-settings.js';
import { DEFAULT_RELEASE_BASE_URL, renderBootScript, type EtcdInstall } from './userdata.js';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
export const DATA_DIR = '/var/lib/etcd';
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
export const PARAMETER_PREFIX_ROOT = '/elastic-etcd';

const DEFAULT_LAMBDA_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const AVAILABILITY_ZONES = 3;

/** How the instances get etcd; `s3` reads the release tarball from a bucket (e.g. a CDK asset's). */
export type EtcdInstallProp =
  | Exclude<EtcdInstall, { method: 's3' }>
  | { readonly method: 's3'; readonly bucket: s3.IBucket; readonly key: string };

export interface ElasticEtcdClusterProps {
  /**
   * The VPC to run in.
   * @default a new VPC over three Availability Zones with flow logs: public and private (egress, one NAT gateway
   * per AZ) subnets, or only isolated subnets and VPC endpoints when `internetAccess` is false
   */
  readonly vpc?: ec2.IVpc;
  /** Where the etcd instances and the Lambda run. @default the VPC's private subnets (isolated ones without internet) */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Whether the instances and the Lambda can reach the internet. When false they reach AWS only through VPC
   * endpoints (SSM, Auto Scaling, EC2 interface endpoints and the S3 gateway endpoint), and etcd must come from S3
   * (`etcdInstall: { method: 's3', ... }`), a mirror inside the network, or the machine image.
   * @default true
   */
  readonly internetAccess?: boolean;
  /** Create the VPC endpoints the instances and the Lambda need. @default true when `internetAccess` is false */
  readonly vpcEndpoints?: boolean;
  /** The cluster's name: part of the parameter path and of the group name. @default 'etcd' */
  readonly clusterName?: string;
  /**
   * Parameter Store prefix; parameters live under `<prefix>/<cluster>/`. The namespace must be unique per
   * deployment (the Lambda claims it for its group and refuses another owner).
   * @default `/elastic-etcd/<stack name>`
   */
  readonly parameterPrefix?: string;
  /** Number of etcd members (the group's min, max and desired capacity): 3, 5, 7 or 9. @default 3 */
  readonly clusterSize?: number;
  /**
   * Accept 1, 2 or an even number of members. With 1 or 2 a single replacement can never heal (a one-voter
   * cluster cannot grow safely), and an even size adds cost without adding fault tolerance.
   * @default false
   */
  readonly allowUnsafeClusterSize?: boolean;
  /** @default t3.small */
  readonly instanceType?: ec2.InstanceType;
  /** @default the latest Amazon Linux 2023 for the instance type's architecture */
  readonly machineImage?: ec2.IMachineImage;
  /** Root volume size in GiB (encrypted gp3; etcd's data lives on it). @default 20 */
  readonly volumeSizeGiB?: number;
  /** The etcd release to install (at least 3.5.20). Changing it rolls the group one member at a time. @default '3.5.30' */
  readonly etcdVersion?: string;
  /**
   * The SHA-256 of the release tarball per architecture, for a version not pinned in infra/etcd-releases.ts
   * (take it from the release's SHA256SUMS). @default the pinned sums
   */
  readonly etcdSha256?: Partial<Record<EtcdArchitecture, string>>;
  /** How the instance installs etcd. @default the official release tarball, checksum-verified */
  readonly etcdInstall?: EtcdInstallProp;
  /**
   * Extra etcd settings by flag name without `--`, e.g. `{ 'quota-backend-bytes': '8589934592',
   * 'auto-compaction-mode': 'periodic', 'auto-compaction-retention': '1h' }`. Written as a static drop-in on
   * every member. Settings elastic-etcd owns (name, data dir, URLs, initial-cluster*, discovery*) are refused.
   * @default none
   */
  readonly etcdSettings?: Readonly<Record<string, string>>;
  /** Who else may reach the client port (2379), besides the Lambda and the client security group. @default none */
  readonly clients?: readonly ec2.IPeer[];
  /** @default 'replace' */
  readonly joinStrategy?: 'replace' | 'prune' | 'add' | 'prepare';
  /** @default 'learner' */
  readonly joinAs?: 'learner' | 'voter';
  /** Per-member health check timeout used by the Lambda. @default 2 seconds */
  readonly healthTimeout?: Duration;
  /**
   * How often the Lambda reconciles membership with the group. Must be shorter than both heartbeat timeouts:
   * a termination held while removing its member would cost the quorum is kept alive by these passes.
   * @default 2 minutes
   */
  readonly reconcileInterval?: Duration;
  /** How long a launching instance may wait for its join. @default 10 minutes */
  readonly launchHeartbeatTimeout?: Duration;
  /** How long a terminating instance is held for its member's removal. @default 5 minutes */
  readonly terminateHeartbeatTimeout?: Duration;
  /** The group's name. @default `<stack name>-<cluster name>` */
  readonly autoScalingGroupName?: string;
  /** The Lambda handler's source file. @default lambda/handler.ts of this repository */
  readonly lambdaEntry?: string;
  /**
   * How long a member may stay unhealthy (hung, crash-looping, never started) on an instance EC2 calls healthy
   * before the Lambda reports the instance Unhealthy (SetInstanceHealth) so the group replaces it, and before a
   * join may remove it (env ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS). Whole seconds, 30 s to 24 h.
   * @default 5 minutes
   */
  readonly unhealthyAfter?: Duration;
}

export class InvalidClusterPropsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidClusterPropsError';
  }
}

export class ElasticEtcdCluster extends Construct {
  readonly vpc: ec2.IVpc;
  readonly autoScalingGroup: autoscaling.AutoScalingGroup;
  readonly autoScalingGroupName: string;
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly function: NodejsFunction;
  /** Members: peer port between themselves, client port from the Lambda, the client group and `clients`. */
  readonly memberSecurityGroup: ec2.SecurityGroup;
  /** Put etcd clients into this group to let them reach the client port. */
  readonly clientSecurityGroup: ec2.SecurityGroup;
  readonly lambdaSecurityGroup: ec2.SecurityGroup;
  /** The FIFO queue that serialises lifecycle actions and reconcile passes into the Lambda. */
  readonly queue: sqs.Queue;
  /** Messages of `queue` the Lambda failed on repeatedly (FIFO, as a FIFO queue's redrive target must be). */
  readonly queueDeadLetterQueue: sqs.Queue;
  /** Events EventBridge could not deliver to `queue` (a standard queue: EventBridge refuses FIFO DLQs). */
  readonly deadLetterQueue: sqs.Queue;
  /** `<prefix>/<cluster>`: the root of this cluster's parameters, unique per deployment. */
  readonly parameterPath: string;
  readonly instanceRole: iam.Role;
  /** The etcd release the instances install, with its pinned SHA-256. */
  readonly etcdRelease: EtcdRelease;
  /** The Lambda's logs: every plan, refusal and membership change. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ElasticEtcdClusterProps = {}) {
    super(scope, id);
    const clusterName = props.clusterName ?? 'etcd';
    const prefix = props.parameterPrefix ?? `${PARAMETER_PREFIX_ROOT}/${this.deploymentSegment()}`;
    const clusterSize = props.clusterSize ?? 3;
    validateProps(clusterName, prefix, clusterSize, props);
    this.parameterPath = `${prefix}/${clusterName}`;
    const launchTimeout = props.launchHeartbeatTimeout ?? Duration.minutes(10);
    const terminateTimeout = props.terminateHeartbeatTimeout ?? Duration.minutes(5);
    const reconcileInterval = props.reconcileInterval ?? Duration.minutes(2);
    if (reconcileInterval.toSeconds() >= Math.min(launchTimeout.toSeconds(), terminateTimeout.toSeconds())) {
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
    const etcdVersion = props.etcdVersion ?? DEFAULT_ETCD_VERSION;
    this.etcdRelease = resolveEtcdRelease(etcdVersion, architecture, props.etcdSha256?.[architecture]);
    const settings = etcdSettingsEnvironment(props.etcdSettings ?? {});

    this.vpc = props.vpc ?? this.createVpc(internetAccess);
    const subnets = props.vpcSubnets ?? { subnetType: internetAccess ? ec2.SubnetType.PRIVATE_WITH_EGRESS : ec2.SubnetType.PRIVATE_ISOLATED };

    // An explicit name breaks the cycle group -> Lambda env/IAM -> group, and lets the rules match on it.
    this.autoScalingGroupName = props.autoScalingGroupName ?? defaultGroupName(this, clusterName);

    // --- security groups: every port opened on purpose --------------------------------------------------------
    this.memberSecurityGroup = new ec2.SecurityGroup(this, 'MemberSecurityGroup', {
      vpc: this.vpc,
      description: `etcd members of ${clusterName}`,
      allowAllOutbound: false,
    });
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSecurityGroup', {
      vpc: this.vpc,
      description: `etcd clients of ${clusterName}`,
      allowAllOutbound: false,
    });
    this.lambdaSecurityGroup = new ec2.SecurityGroup(this, 'LambdaSecurityGroup', {
      vpc: this.vpc,
      description: `elastic-etcd lifecycle Lambda of ${clusterName}`,
      allowAllOutbound: false,
    });
    const clientPort = ec2.Port.tcp(CLIENT_PORT);
    const peerPort = ec2.Port.tcp(PEER_PORT);
    const https = ec2.Port.tcp(443);
    this.memberSecurityGroup.connections.allowInternally(peerPort, 'etcd peer traffic between members');
    this.memberSecurityGroup.connections.allowFrom(this.lambdaSecurityGroup, clientPort, 'the lifecycle Lambda manages membership');
    this.memberSecurityGroup.connections.allowFrom(this.clientSecurityGroup, clientPort, 'declared etcd clients');
    for (const client of props.clients ?? []) {
      this.memberSecurityGroup.addIngressRule(client, clientPort, 'declared etcd client');
    }
    // HTTPS out for SSM, the etcd download (GitHub, a mirror or S3) and the OS's package mirrors; through the NAT
    // gateways, or to the VPC endpoints when there is no internet.
    this.memberSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'AWS APIs and the etcd release download');
    // HTTPS out for the AWS APIs (Auto Scaling, EC2, SSM).
    this.lambdaSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'AWS APIs');
    if (props.vpcEndpoints ?? !internetAccess) this.createVpcEndpoints(subnets);

    // --- the instances ----------------------------------------------------------------------------------------
    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `etcd member of ${clusterName}: reads its own drop-in only`,
    });
    // A policy variable that expands to the bare instance ID does not exist, and SSM parameter names cannot hold
    // the instance ARN (no ':'), so the path alone cannot say "your own". What IAM does give every credential
    // issued to an EC2 instance is `ec2:SourceInstanceARN`, usable as the policy variable
    // ${ec2:SourceInstanceARN}. The Lambda tags each instance parameter with its instance's ARN, and this
    // statement allows a read only when that tag equals the caller's own instance ARN. Another instance's
    // parameters carry another ARN, and an untagged parameter matches nothing: denied, fail safe.
    this.instanceRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadOwnInstanceParameters',
        actions: ['ssm:GetParameter'],
        resources: [this.parameterArn(`${this.parameterPath}/instances/*`)],
        conditions: { StringEquals: { [`ssm:resourceTag/${INSTANCE_ARN_TAG}`]: '${ec2:SourceInstanceARN}' } },
      }),
    );
    if (install.method === 's3') {
      // Exactly the one object, nothing else in the bucket.
      this.instanceRole.addToPolicy(
        new iam.PolicyStatement({ sid: 'ReadEtcdTarball', actions: ['s3:GetObject'], resources: [install.bucket.arnForObjects(install.key)] }),
      );
      install.bucket.encryptionKey?.grantDecrypt(this.instanceRole);
    }

    const machineImage =
      props.machineImage ??
      ec2.MachineImage.latestAmazonLinux2023({
        cpuType: architecture === 'arm64' ? ec2.AmazonLinuxCpuType.ARM_64 : ec2.AmazonLinuxCpuType.X86_64,
      });
    const bootScript = renderBootScript({
      parameterPath: this.parameterPath,
      release: this.etcdRelease,
      install: install.method === 's3' ? { method: 's3', bucket: install.bucket.bucketName, key: install.key } : install,
      dropinWaitSeconds: launchTimeout.toSeconds(),
      settings,
    });
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType,
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

    this.autoScalingGroup = new autoscaling.AutoScalingGroup(this, 'Group', {
      vpc: this.vpc,
      vpcSubnets: subnets,
      launchTemplate: this.launchTemplate,
      autoScalingGroupName: this.autoScalingGroupName,
      minCapacity: clusterSize,
      // No desiredCapacity: min = max already fixes the size, and a desired count would be reset on every deploy.
      maxCapacity: clusterSize,
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
        minInstancesInService: clusterSize - 1,
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
    const cfnGroup = this.autoScalingGroup.node.defaultChild as autoscaling.CfnAutoScalingGroup;
    cfnGroup.lifecycleHookSpecificationList = [
      {
        lifecycleHookName: LAUNCH_HOOK_NAME,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
        heartbeatTimeout: launchTimeout.toSeconds(),
        defaultResult: 'ABANDON',
      },
      {
        lifecycleHookName: TERMINATE_HOOK_NAME,
        lifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
        heartbeatTimeout: terminateTimeout.toSeconds(),
        defaultResult: 'CONTINUE',
      },
    ];

    // --- the serialising queue ----------------------------------------------------------------------------------
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
    this.queueDeadLetterQueue = new sqs.Queue(this, 'QueueDeadLetterQueue', {
      fifo: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      fifo: true,
      // Each event carries its own id and time, so only a true redelivery of the same event is dropped.
      contentBasedDeduplication: true,
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(6 * FUNCTION_TIMEOUT.toSeconds()),
      // A message that fails this often blocks the group no longer; reconcile repairs what it would have done.
      deadLetterQueue: { queue: this.queueDeadLetterQueue, maxReceiveCount: QUEUE_MAX_RECEIVE_COUNT },
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    // --- the Lambda -------------------------------------------------------------------------------------------
    const logGroup = (this.logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    }));
    this.function = new NodejsFunction(this, 'LifecycleFunction', {
      entry: props.lambdaEntry ?? DEFAULT_LAMBDA_ENTRY,
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: FUNCTION_TIMEOUT,
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.lambdaSecurityGroup],
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        // The Lambda's configuration contract (src/lambda/config.ts): written here, read by loadConfig.
        ...toEnvironment({
          clusterName,
          parameterPrefix: prefix,
          autoScalingGroup: this.autoScalingGroupName,
          clientPort: CLIENT_PORT,
          peerPort: PEER_PORT,
          clusterSize,
          joinStrategy: props.joinStrategy ?? CLUSTER_DEFAULTS.joinStrategy,
          joinAs: props.joinAs ?? CLUSTER_DEFAULTS.joinAs,
          dataDir: DATA_DIR,
          launchHook: LAUNCH_HOOK_NAME,
          terminateHook: TERMINATE_HOOK_NAME,
          healthTimeoutMs: (props.healthTimeout ?? Duration.millis(CLUSTER_DEFAULTS.healthTimeoutMs)).toMilliseconds(),
          // The version every member installs, for the Lambda's version-skew check.
          etcdVersion: parseEtcdVersion(this.etcdRelease.version),
          unhealthyAfterMs: unhealthyAfterSeconds(props.unhealthyAfter) * 1000,
        }),
      },
      bundling: {
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: true,
        forceDockerBundling: false,
        mainFields: ['module', 'main'],
        // Bundle the AWS SDK too: the versions pinned in package-lock.json, not whatever the runtime ships.
        externalModules: [],
        // Some dependencies still call require(); ESM output has none unless we make one.
        banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    // Batch size 1 and partial batch responses: a record that fails is made visible again after a short retry
    // delay (sqs:ChangeMessageVisibility, which the event source grants along with receive and delete) and reported.
    this.function.addEventSource(new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true }));
    // The Lambda reaches the members' client port, and nothing else inside the VPC.
    this.lambdaSecurityGroup.connections.allowTo(this.memberSecurityGroup, clientPort, 'etcd membership API');
    this.clientSecurityGroup.connections.allowTo(this.memberSecurityGroup, clientPort, 'etcd client API');
    this.grantLambda(this.function.role ?? fail('the function has no role'));

    // --- events: both lifecycle actions and the reconcile schedule, into the queue ----------------------------
    const target = new targets.SqsQueue(this.queue, {
      messageGroupId: MESSAGE_GROUP_ID,
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 8,
      // Older than the launch hook's timeout is too late to act on: the hook has already timed out.
      maxEventAge: Duration.seconds(Math.max(60, launchTimeout.toSeconds())),
    });
    const rules = [
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
        description: `elastic-etcd: reconcile ${clusterName} with its group`,
        schedule: events.Schedule.rate(reconcileInterval),
        targets: [target],
      }),
    ];

    // Creation order: everything that must receive the first instances' lifecycle actions exists before the
    // group launches them: the Lambda with its role, policies and event source mapping, the queues with their
    // policies, and the rules.
    this.autoScalingGroup.node.addDependency(this.function, this.queue, this.queueDeadLetterQueue, this.deadLetterQueue, ...rules);

    this.addNagSuppressions();
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
   * failed queue message back early with ChangeMessageVisibility; the polling itself is the Lambda service's), and
   * the S3 gateway (the etcd tarball).
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
    const lambdaRole = this.function.role ?? fail('the function has no role');
    // cdk-nag names findings by the ARN as synthesised: pseudo parameters where the environment is unknown.
    const stack = Stack.of(this);
    const pseudo = (value: string, name: string): string => (Token.isUnresolved(value) ? `<AWS::${name}>` : value);
    const env = `${pseudo(stack.partition, 'Partition')}:%s:${pseudo(stack.region, 'Region')}:${pseudo(stack.account, 'AccountId')}`;
    const arnPrefix = (service: string): string => `arn:${env.replace('%s', service)}`;
    const ssmArn = (path: string): string => `${arnPrefix('ssm')}:parameter${path}`;
    acknowledge(lambdaRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AWS managed basic-execution policy: the function writes its logs, nothing more.');
    acknowledge(lambdaRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]',
      'AWS managed VPC-access policy: the network interfaces a function in a VPC needs, nothing more.');
    acknowledge(lambdaRole, 'AwsSolutions-IAM5[Resource::*]',
      'autoscaling:Describe* and ec2:DescribeInstances support no resource-level permissions; "*" is the only resource they accept.');
    acknowledge(lambdaRole, `AwsSolutions-IAM5[Resource::${ssmArn(`${this.parameterPath}/*`)}]`,
      "The Lambda manages this deployment's parameters, which all live under <prefix>/<cluster>/ and nowhere else.");
    acknowledge(lambdaRole,
      `AwsSolutions-IAM5[Resource::${arnPrefix('autoscaling')}:autoScalingGroup:*:autoScalingGroupName/${this.autoScalingGroupName}]`,
      "Lifecycle actions of this group only: its ARN holds a generated UUID, so the group is matched by its fixed name.");
    acknowledge(this.instanceRole, `AwsSolutions-IAM5[Resource::${ssmArn(`${this.parameterPath}/instances/*`)}]`,
      "Instance IDs are not known in advance; the ec2:SourceInstanceARN tag condition narrows the wildcard to the caller's own parameters.");
    acknowledge(this.function, 'AwsSolutions-L1',
      'nodejs22.x is the runtime this project targets and tests (its code also runs on Node.js 20); upgrades are deliberate.');
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the three EventBridge rule targets (EventBridge accepts only standard queues there).');
    acknowledge(this.queueDeadLetterQueue, 'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue (redrive target) of the serialising FIFO queue.');
    acknowledge(this.autoScalingGroup, 'AwsSolutions-AS3',
      'Scaling events reach EventBridge as lifecycle actions and are handled by the Lambda; failures land in the dead-letter queues.');
  }
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
  // Tokens cannot be checked, and these values are baked into IAM policies, the boot script and the rollout policy.
  for (const [name, value] of [
    ['clusterName', clusterName],
    ['parameterPrefix', prefix],
  ] as const) {
    if (Token.isUnresolved(value)) throw new InvalidClusterPropsError(`${name} must be known at synth time (a literal), not a deploy-time token`);
  }
  if (Token.isUnresolved(clusterSize)) {
    throw new InvalidClusterPropsError('clusterSize must be known at synth time (a literal), not a deploy-time token: the rollout policy and quorum depend on it');
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
    throw new InvalidClusterPropsError(`parameterPrefix ${JSON.stringify(prefix)}: expected /segment[/segment...] not starting with /aws or /ssm`);
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
  if (props.volumeSizeGiB !== undefined && (!Number.isInteger(props.volumeSizeGiB) || props.volumeSizeGiB < 8)) {
    throw new InvalidClusterPropsError(`volumeSizeGiB ${props.volumeSizeGiB}: expected a whole number of at least 8`);
  }
}

/** unhealthyAfter in whole seconds, 30 s to 24 h (validated at synth time). */
function unhealthyAfterSeconds(value: Duration | undefined): number {
  const seconds = (value ?? Duration.minutes(5)).toSeconds({ integral: false });
  if (!Number.isInteger(seconds) || seconds < 30 || seconds > 86_400) {
    throw new InvalidClusterPropsError(`unhealthyAfter ${value?.toHumanString() ?? ''}: expected whole seconds from 30 seconds to 24 hours`);
  }
  return seconds;
}

function fail(message: string): never {
  throw new Error(message);
}
