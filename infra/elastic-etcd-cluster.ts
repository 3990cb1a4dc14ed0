// ElasticEtcdCluster: an etcd cluster on an Auto Scaling group that heals itself. Launch and terminate lifecycle
// hooks reach one Lambda through EventBridge; the Lambda plans each membership change, stores the instance's
// etcd drop-in in SSM Parameter Store, and the instance's boot script starts etcd with it.
import { fileURLToPath } from 'node:url';
import { ArnFormat, Duration, Names, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { renderBootScript, type EtcdInstall } from './userdata.js';

export const CLIENT_PORT = 2379;
export const PEER_PORT = 2380;
export const DATA_DIR = '/var/lib/etcd';
export const LAUNCH_HOOK_NAME = 'elastic-etcd-launch';
export const TERMINATE_HOOK_NAME = 'elastic-etcd-terminate';
/**
 * The tag the Lambda must put on every `<prefix>/<cluster>/instances/<id>/*` parameter, valued with that
 * instance's ARN (`arn:<partition>:ec2:<region>:<account>:instance/<id>`). The instance role may read a
 * parameter only when this tag equals the ARN of the instance its credentials were issued to (see below).
 */
export const INSTANCE_ARN_TAG = 'elastic-etcd:instance-arn';

const DEFAULT_LAMBDA_ENTRY = fileURLToPath(new URL('../lambda/handler.ts', import.meta.url));
const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ElasticEtcdClusterProps {
  /** The VPC to run in. @default a new VPC with public and private (egress) subnets in two AZs and flow logs */
  readonly vpc?: ec2.IVpc;
  /** Where the etcd instances and the Lambda run. @default the VPC's private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** The cluster's name: part of the parameter path and of the group name. @default 'etcd' */
  readonly clusterName?: string;
  /** Parameter Store prefix; parameters live under `<prefix>/<cluster>/`. @default '/elastic-etcd' */
  readonly parameterPrefix?: string;
  /** Number of etcd members (the group's min, max and desired capacity). @default 3 */
  readonly clusterSize?: number;
  /** @default t3.small */
  readonly instanceType?: ec2.InstanceType;
  /** @default the latest Amazon Linux 2023 for the instance type's architecture */
  readonly machineImage?: ec2.IMachineImage;
  /** Root volume size in GiB (encrypted gp3; etcd's data lives on it). @default 20 */
  readonly volumeSizeGiB?: number;
  /** The etcd release to install. @default '3.5.17' */
  readonly etcdVersion?: string;
  /** How the instance installs etcd. @default the official release tarball */
  readonly etcdInstall?: EtcdInstall;
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
  /** Lifecycle and reconcile events that could not be delivered or processed. */
  readonly deadLetterQueue: sqs.Queue;
  /** `<prefix>/<cluster>`: the root of this cluster's parameters. */
  readonly parameterPath: string;
  readonly instanceRole: iam.Role;
  /** The Lambda's logs: every plan, refusal and membership change. */
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: ElasticEtcdClusterProps = {}) {
    super(scope, id);
    const clusterName = props.clusterName ?? 'etcd';
    const prefix = props.parameterPrefix ?? '/elastic-etcd';
    const clusterSize = props.clusterSize ?? 3;
    validateProps(clusterName, prefix, clusterSize, props.volumeSizeGiB);
    this.parameterPath = `${prefix}/${clusterName}`;
    const launchTimeout = props.launchHeartbeatTimeout ?? Duration.minutes(10);
    const terminateTimeout = props.terminateHeartbeatTimeout ?? Duration.minutes(5);
    const reconcileInterval = props.reconcileInterval ?? Duration.minutes(2);
    if (reconcileInterval.toSeconds() >= Math.min(launchTimeout.toSeconds(), terminateTimeout.toSeconds())) {
      throw new InvalidClusterPropsError(
        `reconcileInterval (${reconcileInterval.toHumanString()}) must be shorter than both lifecycle heartbeat timeouts, which its passes keep alive`,
      );
    }

    this.vpc = props.vpc ?? this.createVpc();
    const subnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };

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
    // HTTPS out for SSM, the etcd release download and the OS's package mirrors.
    this.memberSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'AWS APIs and the etcd release download');
    // HTTPS out for the AWS APIs (Auto Scaling, EC2, SSM) through the NAT gateway.
    this.lambdaSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), https, 'AWS APIs');

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

    const machineImage =
      props.machineImage ??
      ec2.MachineImage.latestAmazonLinux2023({
        cpuType:
          (props.instanceType ?? defaultInstanceType()).architecture === ec2.InstanceArchitecture.ARM_64
            ? ec2.AmazonLinuxCpuType.ARM_64
            : ec2.AmazonLinuxCpuType.X86_64,
      });
    const bootScript = renderBootScript({
      parameterPath: this.parameterPath,
      etcdVersion: props.etcdVersion ?? '3.5.17',
      install: props.etcdInstall ?? { method: 'release' },
      dropinWaitSeconds: launchTimeout.toSeconds(),
    });
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      instanceType: props.instanceType ?? defaultInstanceType(),
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
      // One member at a time on template changes: the terminate hook removes it, the launch hook adds the new one.
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({ maxBatchSize: 1, minInstancesInService: clusterSize - 1 }),
    });

    // Fail safe: a launch nobody confirmed is abandoned (the instance never joins and is replaced); a terminate
    // nobody handled continues (the machine is going away regardless, and the reconcile removes its member).
    this.autoScalingGroup.addLifecycleHook('LaunchHook', {
      lifecycleHookName: LAUNCH_HOOK_NAME,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_LAUNCHING,
      heartbeatTimeout: launchTimeout,
      defaultResult: autoscaling.DefaultResult.ABANDON,
    });
    this.autoScalingGroup.addLifecycleHook('TerminateHook', {
      lifecycleHookName: TERMINATE_HOOK_NAME,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: terminateTimeout,
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });

    // --- the Lambda -------------------------------------------------------------------------------------------
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
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
      timeout: Duration.minutes(5),
      // One invocation at a time: membership changes must never race each other.
      reservedConcurrentExecutions: 1,
      // Failed asynchronous invocations are retried by Lambda, then parked in the dead-letter queue.
      retryAttempts: 2,
      deadLetterQueue: this.deadLetterQueue,
      vpc: this.vpc,
      vpcSubnets: subnets,
      securityGroups: [this.lambdaSecurityGroup],
      logGroup,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        ELASTIC_ETCD_CLUSTER_NAME: clusterName,
        ELASTIC_ETCD_PARAMETER_PREFIX: prefix,
        ELASTIC_ETCD_AUTO_SCALING_GROUP: this.autoScalingGroupName,
        ELASTIC_ETCD_CLIENT_PORT: String(CLIENT_PORT),
        ELASTIC_ETCD_PEER_PORT: String(PEER_PORT),
        ELASTIC_ETCD_CLUSTER_SIZE: String(clusterSize),
        ELASTIC_ETCD_JOIN_STRATEGY: props.joinStrategy ?? 'replace',
        ELASTIC_ETCD_JOIN_AS: props.joinAs ?? 'learner',
        ELASTIC_ETCD_DATA_DIR: DATA_DIR,
        ELASTIC_ETCD_LAUNCH_HOOK: LAUNCH_HOOK_NAME,
        ELASTIC_ETCD_TERMINATE_HOOK: TERMINATE_HOOK_NAME,
        ELASTIC_ETCD_HEALTH_TIMEOUT_MS: String((props.healthTimeout ?? Duration.seconds(2)).toMilliseconds()),
        ELASTIC_ETCD_UNHEALTHY_AFTER_SECONDS: String(unhealthyAfterSeconds(props.unhealthyAfter)),
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
    // The Lambda reaches the members' client port, and nothing else inside the VPC.
    this.lambdaSecurityGroup.connections.allowTo(this.memberSecurityGroup, clientPort, 'etcd membership API');
    this.clientSecurityGroup.connections.allowTo(this.memberSecurityGroup, clientPort, 'etcd client API');
    this.grantLambda(this.function.role ?? fail('the function has no role'));

    // --- events: both lifecycle actions and the reconcile schedule --------------------------------------------
    const target = new targets.LambdaFunction(this.function, {
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 8,
      // Older than the launch hook's timeout is too late to act on: the hook has already timed out.
      maxEventAge: Duration.seconds(Math.max(60, launchTimeout.toSeconds())),
    });
    new events.Rule(this, 'LaunchRule', {
      description: `elastic-etcd: ${this.autoScalingGroupName} launch lifecycle action`,
      eventPattern: this.lifecyclePattern('EC2 Instance-launch Lifecycle Action', LAUNCH_HOOK_NAME),
      targets: [target],
    });
    new events.Rule(this, 'TerminateRule', {
      description: `elastic-etcd: ${this.autoScalingGroupName} terminate lifecycle action`,
      eventPattern: this.lifecyclePattern('EC2 Instance-terminate Lifecycle Action', TERMINATE_HOOK_NAME),
      targets: [target],
    });
    new events.Rule(this, 'ReconcileRule', {
      description: `elastic-etcd: reconcile ${clusterName} with its group`,
      schedule: events.Schedule.rate(reconcileInterval),
      targets: [target],
    });

    this.addNagSuppressions();
  }

  private createVpc(): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
    });
    vpc.addFlowLog('FlowLog');
    return vpc;
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
        ],
        // The path itself too: GetParametersByPath on `<prefix>/<cluster>` is authorised against that ARN.
        resources: [this.parameterArn(this.parameterPath), this.parameterArn(`${this.parameterPath}/*`)],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CompleteOwnLifecycleActions',
        actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat'],
        resources: [
          stack.formatArn({
            service: 'autoscaling',
            resource: 'autoScalingGroup',
            resourceName: `*:autoScalingGroupName/${this.autoScalingGroupName}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        // A member unhealthy past unhealthyAfter on an InService instance: the group replaces the instance.
        sid: 'ReportOwnInstancesUnhealthy',
        actions: ['autoscaling:SetInstanceHealth'],
        resources: [
          stack.formatArn({
            service: 'autoscaling',
            resource: 'autoScalingGroup',
            resourceName: `*:autoScalingGroupName/${this.autoScalingGroupName}`,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
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
      "The Lambda manages this cluster's parameters, which all live under <prefix>/<cluster>/ and nowhere else.");
    acknowledge(lambdaRole,
      `AwsSolutions-IAM5[Resource::${arnPrefix('autoscaling')}:autoScalingGroup:*:autoScalingGroupName/${this.autoScalingGroupName}]`,
      "Lifecycle actions of this group only: its ARN holds a generated UUID, so the group is matched by its fixed name.");
    acknowledge(this.instanceRole, `AwsSolutions-IAM5[Resource::${ssmArn(`${this.parameterPath}/instances/*`)}]`,
      "Instance IDs are not known in advance; the ec2:SourceInstanceARN tag condition narrows the wildcard to the caller's own parameters.");
    acknowledge(this.function, 'AwsSolutions-L1',
      'nodejs22.x is the runtime this project targets and tests (its code also runs on Node.js 20); upgrades are deliberate.');
    acknowledge(this.deadLetterQueue, 'AwsSolutions-SQS3',
      'This queue is itself the dead-letter queue of the lifecycle rules, the reconcile rule and the Lambda.');
    acknowledge(this.autoScalingGroup, 'AwsSolutions-AS3',
      'Scaling events reach EventBridge as lifecycle actions and are handled by the Lambda; failures land in the dead-letter queue.');
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

function validateProps(clusterName: string, prefix: string, clusterSize: number, volumeSizeGiB: number | undefined): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(clusterName)) {
    throw new InvalidClusterPropsError(`clusterName ${JSON.stringify(clusterName)}: use 1-64 letters, digits, _ . -`);
  }
  if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(prefix) || prefix.toLowerCase().startsWith('/aws') || prefix.toLowerCase().startsWith('/ssm')) {
    throw new InvalidClusterPropsError(`parameterPrefix ${JSON.stringify(prefix)}: expected /segment[/segment...] not starting with /aws or /ssm`);
  }
  if (!Number.isInteger(clusterSize) || clusterSize < 1 || clusterSize > 9) {
    throw new InvalidClusterPropsError(`clusterSize ${clusterSize}: expected a whole number from 1 to 9`);
  }
  if (volumeSizeGiB !== undefined && (!Number.isInteger(volumeSizeGiB) || volumeSizeGiB < 8)) {
    throw new InvalidClusterPropsError(`volumeSizeGiB ${volumeSizeGiB}: expected a whole number of at least 8`);
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
