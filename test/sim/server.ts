// The simulated cloud's one HTTP endpoint. It speaks, for exactly the operations the adapters use:
//   Auto Scaling  AWS Query (form body, Version 2011-01-01), XML answers
//   EC2           EC2 Query (form body, Version 2016-11-15), XML answers
//   SSM           JSON 1.1 (X-Amz-Target: AmazonSSM.<Operation>)
//   SQS           JSON 1.0 (X-Amz-Target: AmazonSQS.<Operation>, with the query-compatible error header),
//                 GetQueueUrl and ChangeMessageVisibility on the FIFO queues attached (test/sim/fifo.ts)
//   IMDSv2        /imds/<instance-id>/latest/api/token and /latest/meta-data/{instance-id,local-ipv4}
// Real SDK clients reach it through AWS_ENDPOINT_URL_<SERVICE> (or the `endpoint` option) with dummy
// credentials; signatures are accepted without checking. Faults (throttling, any AWS error) can be queued
// per operation so retries and error mapping are testable.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimulatedGroup, SimValidationError } from './group.js';
import type { SimInstance, SimulatedGroupOptions } from './group.js';
import { SimQueueError, type SimulatedFifoQueue } from './fifo.js';
import { SimParameterError, SimulatedParameters } from './parameters.js';
import type { SimParameter } from './parameters.js';
import { SimulatedS3 } from './s3.js';
import { createS3Client } from '../../src/adapters/aws/backups.js';
import type { S3Client } from '@aws-sdk/client-s3';

/** The credentials every SDK client of the simulated cloud signs with (it accepts any). */
export const SIMULATED_CREDENTIALS = { accessKeyId: 'SIMULATEDACCESSKEY', secretAccessKey: 'simulated-secret-key' } as const;

type Service = 'autoscaling' | 'ec2' | 'ssm' | 'sqs';

export interface InjectedFault {
  readonly code: string;
  readonly message: string;
  readonly status: number;
}

export interface RecordedCall {
  readonly service: Service;
  readonly operation: string;
  readonly params: Readonly<Record<string, unknown>>;
  /** The AWS error code answered, if any. */
  readonly error?: string;
}

/**
 * One AWS account and region several simulated clouds share: one Parameter Store, and every group visible to
 * DescribeAutoScalingGroups (two deployments side by side, each with its own endpoint and group).
 */
export class SimulatedAccount {
  readonly parameters: SimulatedParameters;
  readonly groups = new Set<SimulatedGroup>();

  constructor(clock?: () => Date) {
    this.parameters = new SimulatedParameters(clock);
  }
}

export interface SimulatedCloudOptions {
  /** Share this account's parameters and groups with other clouds; default: an account of its own. */
  readonly account?: SimulatedAccount;
  /** Loopback address to listen on; port 0 picks a free port. */
  readonly host?: string;
  readonly port?: number;
  readonly group?: SimulatedGroupOptions;
  /** Page sizes; small values make pagination visible in tests. */
  readonly pageSizes?: { readonly autoScalingInstances?: number; readonly ec2Instances?: number; readonly parameters?: number };
}

const AUTOSCALING_VERSION = '2011-01-01';
const EC2_VERSION = '2016-11-15';
const AUTOSCALING_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';
const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';

const THROTTLING: Record<Service, InjectedFault> = {
  autoscaling: { code: 'Throttling', message: 'Rate exceeded', status: 400 },
  ec2: { code: 'RequestLimitExceeded', message: 'Request limit exceeded.', status: 503 },
  ssm: { code: 'ThrottlingException', message: 'Rate exceeded', status: 400 },
  sqs: { code: 'RequestThrottled', message: 'Request is throttled.', status: 403 },
};

/**
 * SQS errors as the JSON protocol answers them: the HTTP status and the AWS Query code the
 * `x-amzn-query-error` header carries (the SDK's SQS error shapes list both).
 */
const SQS_ERRORS: Record<string, { status: number; queryCode: string }> = {
  ReceiptHandleIsInvalid: { status: 404, queryCode: 'ReceiptHandleIsInvalid' },
  MessageNotInflight: { status: 400, queryCode: 'AWS.SimpleQueueService.MessageNotInflight' },
  QueueDoesNotExist: { status: 400, queryCode: 'AWS.SimpleQueueService.NonExistentQueue' },
  InvalidParameterValue: { status: 400, queryCode: 'InvalidParameterValue' },
  RequestThrottled: { status: 403, queryCode: 'RequestThrottled' },
};

/** An error answered in the service's own error shape. */
class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export class SimulatedCloud {
  readonly group: SimulatedGroup;
  readonly parameters: SimulatedParameters;
  readonly account: SimulatedAccount;
  /** Every API call answered, in order (IMDS excluded). */
  readonly calls: RecordedCall[] = [];
  private readonly faults = new Map<string, InjectedFault[]>();
  private readonly imdsTokens = new Set<string>();
  private readonly queues = new Set<SimulatedFifoQueue>();
  private server: Server | undefined;
  private baseUrl = '';
  /** S3, path-style under /s3/ (test/sim/s3.ts); buckets are created by the test. */
  readonly s3 = new SimulatedS3();

  constructor(private readonly options: SimulatedCloudOptions = {}) {
    this.group = new SimulatedGroup(options.group);
    this.account = options.account ?? new SimulatedAccount(options.group?.clock);
    this.account.groups.add(this.group);
    this.parameters = this.account.parameters;
  }

  get url(): string {
    if (this.baseUrl === '') throw new Error('the simulated cloud is not started');
    return this.baseUrl;
  }

  /** Endpoints for the SDK clients' `endpoint` option (all the same URL: the protocol tells them apart). */
  get endpoints(): { autoScaling: string; ec2: string; ssm: string; sqs: string } {
    return { autoScaling: this.url, ec2: this.url, ssm: this.url, sqs: this.url };
  }

  /** The S3 endpoint (path-style: the SDK needs forcePathStyle). */
  get s3Url(): string {
    return `${this.url}/s3`;
  }

  /** The real S3 client, signed with the simulated credentials and pointed at this endpoint (path-style). */
  s3Client(maxAttempts: number): S3Client {
    return createS3Client({ region: this.group.region, endpoint: this.s3Url, credentials: SIMULATED_CREDENTIALS, maxAttempts });
  }

  /** Serves a simulated FIFO queue's GetQueueUrl and ChangeMessageVisibility from this endpoint. */
  attachQueue(queue: SimulatedFifoQueue): void {
    this.queues.add(queue);
  }

  /** Environment for a process (e.g. the Lambda under test) that should use the simulated cloud. */
  get env(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL_AUTO_SCALING: this.url,
      AWS_ENDPOINT_URL_EC2: this.url,
      AWS_ENDPOINT_URL_SSM: this.url,
      AWS_ENDPOINT_URL_SQS: this.url,
      AWS_ENDPOINT_URL_S3: this.s3Url,
      AWS_REGION: this.group.region,
      AWS_ACCESS_KEY_ID: SIMULATED_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SIMULATED_CREDENTIALS.secretAccessKey,
    };
  }

  /** The IMDS base URL one instance sees (its own metadata), e.g. for the CLI's metadata lookup. */
  imdsUrl(instanceId: string): string {
    return `${this.url}/imds/${instanceId}`;
  }

  /** The next `times` calls of `operation` (e.g. "GetParameter") answer the service's throttling error. */
  throttle(operation: string, times = 1): void {
    const service = serviceOf(operation);
    this.failNext(operation, THROTTLING[service], times);
  }

  /** The next `times` calls of `operation` answer the given AWS error. */
  failNext(operation: string, fault: InjectedFault, times = 1): void {
    const queue = this.faults.get(operation) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(operation, queue);
  }

  callsOf(operation: string): RecordedCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => resolve());
    });
    const address = server.address() as AddressInfo;
    this.server = server;
    this.baseUrl = `http://${address.address}:${address.port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // --- dispatch ---

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // S3 bodies are binary and streamed: routed before the body is read as text.
    if ((req.url ?? '').startsWith('/s3/')) {
      const url = new URL(req.url ?? '/', 'http://s3.local');
      return this.s3.handle(req, res, url.pathname.slice('/s3'.length), url.searchParams);
    }
    const body = await readBody(req);
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    if (path.startsWith('/imds/')) return this.handleImds(req, res, path);
    const target = req.headers['x-amz-target'];
    if (typeof target === 'string' && target.startsWith('AmazonSSM.')) {
      return this.handleSsm(res, target.slice('AmazonSSM.'.length), body);
    }
    if (typeof target === 'string' && target.startsWith('AmazonSQS.')) {
      return this.handleSqs(res, target.slice('AmazonSQS.'.length), body);
    }
    const params = Object.fromEntries(new URLSearchParams(body));
    const service: Service | undefined =
      params.Version === AUTOSCALING_VERSION ? 'autoscaling' : params.Version === EC2_VERSION ? 'ec2' : undefined;
    if (service === undefined || params.Action === undefined) {
      res
        .writeHead(400, { 'content-type': 'text/plain' })
        .end('unknown protocol: expected AWS Query, EC2 Query, SSM JSON 1.1 or SQS JSON 1.0');
      return;
    }
    const operation = params.Action;
    const requestId = this.group.nextUuid();
    try {
      this.injectFault(operation);
      const xml = service === 'autoscaling' ? await this.autoScaling(operation, params) : this.ec2(operation, params);
      this.calls.push({ service, operation, params });
      const ns = service === 'autoscaling' ? AUTOSCALING_NS : EC2_NS;
      const metadata =
        service === 'autoscaling'
          ? `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata>`
          : `<requestId>${requestId}</requestId>`;
      const inner = service === 'autoscaling' ? `<${operation}Result>${xml}</${operation}Result>${metadata}` : `${metadata}${xml}`;
      sendXml(res, 200, `<?xml version="1.0" encoding="UTF-8"?><${operation}Response xmlns="${ns}">${inner}</${operation}Response>`);
    } catch (err) {
      const error = toAwsError(err);
      this.calls.push({ service, operation, params, error: error.code });
      const xml =
        service === 'autoscaling'
          ? `<ErrorResponse xmlns="${AUTOSCALING_NS}"><Error><Type>Sender</Type><Code>${esc(error.code)}</Code><Message>${esc(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`
          : `<Response><Errors><Error><Code>${esc(error.code)}</Code><Message>${esc(error.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
      sendXml(res, error.status, `<?xml version="1.0" encoding="UTF-8"?>${xml}`);
    }
  }

  private injectFault(operation: string): void {
    const fault = this.faults.get(operation)?.shift();
    if (fault !== undefined) throw new AwsError(fault.code, fault.message, fault.status);
  }

  // --- Auto Scaling ---

  private async autoScaling(operation: string, params: Record<string, string>): Promise<string> {
    const group = this.group;
    switch (operation) {
      case 'DescribeAutoScalingGroups': {
        const names = listParam(params, 'AutoScalingGroupNames.member.');
        const groups = [...this.account.groups].filter((g) => (names.length === 0 ? g === group : names.includes(g.name)));
        return `<AutoScalingGroups>${groups.map(groupXml).join('')}</AutoScalingGroups>`;
      }
      case 'DescribeAutoScalingInstances': {
        const ids = listParam(params, 'InstanceIds.member.');
        const known = group.instances().filter((i) => ids.length === 0 || ids.includes(i.id));
        const size = Math.min(numberParam(params.MaxRecords) ?? 50, this.options.pageSizes?.autoScalingInstances ?? 50);
        const { page, nextToken } = paginate(known, params.NextToken, size);
        const members = page
          .map((i) => `<member>${asgInstanceFields(i)}<AutoScalingGroupName>${esc(group.name)}</AutoScalingGroupName></member>`)
          .join('');
        return `<AutoScalingInstances>${members}</AutoScalingInstances>${nextToken === undefined ? '' : `<NextToken>${nextToken}</NextToken>`}`;
      }
      case 'CompleteLifecycleAction': {
        const result = params.LifecycleActionResult;
        if (result !== 'CONTINUE' && result !== 'ABANDON')
          throw new AwsError('ValidationError', `invalid LifecycleActionResult ${result ?? ''}`);
        await group.completeLifecycleAction({ ...lifecycleRef(params), result });
        return '';
      }
      case 'RecordLifecycleActionHeartbeat':
        group.recordHeartbeat(lifecycleRef(params));
        return '';
      case 'SetInstanceHealth': {
        const status = params.HealthStatus;
        if (status !== 'Healthy' && status !== 'Unhealthy') throw new AwsError('ValidationError', `invalid HealthStatus ${status ?? ''}`);
        if (params.InstanceId === undefined) throw new AwsError('ValidationError', 'InstanceId is required');
        await group.setInstanceHealth(params.InstanceId, status, params.ShouldRespectGracePeriod !== 'false');
        return '';
      }
      default:
        throw new AwsError('InvalidAction', `The action ${operation} is not valid for this web service.`);
    }
  }

  // --- EC2 ---

  private ec2(operation: string, params: Record<string, string>): string {
    if (operation !== 'DescribeInstances')
      throw new AwsError('InvalidAction', `The action ${operation} is not valid for this web service.`);
    const ids = listParam(params, 'InstanceId.');
    const unknown = ids.filter((id) => this.group.instance(id) === undefined);
    if (unknown.length === 1) throw new AwsError('InvalidInstanceID.NotFound', `The instance ID '${unknown[0] ?? ''}' does not exist`);
    if (unknown.length > 1) throw new AwsError('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
    const instances = this.group.ec2Instances().filter((i) => ids.length === 0 || ids.includes(i.id));
    const size = this.options.pageSizes?.ec2Instances ?? Number.MAX_SAFE_INTEGER;
    const { page, nextToken } = paginate(instances, params.NextToken, size);
    const items = page.map(
      (i) =>
        `<item><reservationId>r-${i.id.slice(2)}</reservationId><ownerId>${this.group.account}</ownerId><groupSet/><instancesSet><item>${ec2InstanceFields(i)}</item></instancesSet></item>`,
    );
    return `<reservationSet>${items.join('')}</reservationSet>${nextToken === undefined ? '' : `<nextToken>${nextToken}</nextToken>`}`;
  }

  // --- SSM ---

  private handleSsm(res: ServerResponse, operation: string, body: string): void {
    let input: Record<string, unknown> = {};
    try {
      input = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>);
    } catch {
      sendJson(res, 400, { __type: 'SerializationException', message: 'invalid JSON' });
      return;
    }
    try {
      this.injectFault(operation);
      const answer = this.ssm(operation, input);
      this.calls.push({ service: 'ssm', operation, params: input });
      sendJson(res, 200, answer, this.group.nextUuid());
    } catch (err) {
      const error = toAwsError(err);
      this.calls.push({ service: 'ssm', operation, params: input, error: error.code });
      sendJson(res, error.status, { __type: error.code, message: error.message }, this.group.nextUuid());
    }
  }

  private ssm(operation: string, input: Record<string, unknown>): unknown {
    const store = this.parameters;
    switch (operation) {
      case 'GetParameter':
        return { Parameter: this.ssmParameter(store.get(stringField(input, 'Name')), input.WithDecryption === true) };
      case 'PutParameter': {
        const type = input.Type ?? 'String';
        if (type !== 'String' && type !== 'StringList' && type !== 'SecureString')
          throw new AwsError('ValidationException', `Type ${JSON.stringify(type)} is not String, StringList or SecureString`);
        if (input.KeyId !== undefined && typeof input.KeyId !== 'string')
          throw new AwsError('ValidationException', 'KeyId must be a string');
        const stored = store.put(stringField(input, 'Name'), stringField(input, 'Value'), input.Overwrite === true, tagsField(input), {
          type: type,
          ...(typeof input.KeyId === 'string' && { keyId: input.KeyId }),
        });
        return { Version: stored.version, Tier: stored.value.length > 4096 ? 'Advanced' : 'Standard' };
      }
      case 'AddTagsToResource': {
        if (input.ResourceType !== 'Parameter') throw new AwsError('ValidationException', 'only parameters are simulated');
        store.addTags(stringField(input, 'ResourceId'), tagsField(input) ?? {});
        return {};
      }
      case 'ListTagsForResource': {
        if (input.ResourceType !== 'Parameter') throw new AwsError('ValidationException', 'only parameters are simulated');
        const tags = store.tags(stringField(input, 'ResourceId'));
        // As SSM does: a parameter that does not exist is an invalid resource ID.
        if (tags === undefined)
          throw new AwsError(
            'InvalidResourceId',
            'The resource ID is not valid. Verify that the resource ID and resource type are correct.',
          );
        return { TagList: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
      }
      case 'DeleteParameter':
        store.delete(stringField(input, 'Name'));
        return {};
      case 'GetParametersByPath': {
        const max = input.MaxResults === undefined ? 10 : Number(input.MaxResults);
        if (!Number.isInteger(max) || max < 1 || max > 10) throw new AwsError('ValidationException', 'MaxResults must be between 1 and 10');
        const size = Math.min(max, this.options.pageSizes?.parameters ?? 10);
        const matches = store.byPath(stringField(input, 'Path'), input.Recursive === true);
        const { page, nextToken } = paginate(matches, typeof input.NextToken === 'string' ? input.NextToken : undefined, size);
        return {
          Parameters: page.map((p) => this.ssmParameter(p, input.WithDecryption === true)),
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        };
      }
      default:
        throw new AwsError('UnknownOperationException', `unknown operation ${operation}`);
    }
  }

  /**
   * A KMS key of this account, known to SSM by its key ID, key ARN, and (given `alias`, without "alias/") its
   * alias name and alias ARN: what a stack's customer managed key is to the SecureString parameters.
   */
  createKmsKey(alias?: string): { keyId: string; arn: string; aliasName?: string; aliasArn?: string } {
    const keyId = this.group.nextUuid();
    const base = `arn:aws:kms:${this.group.region}:${this.group.account}`;
    const key = {
      keyId,
      arn: `${base}:key/${keyId}`,
      ...(alias !== undefined && { aliasName: `alias/${alias}`, aliasArn: `${base}:alias/${alias}` }),
    };
    this.parameters.addKmsKey(...Object.values(key));
    return key;
  }

  private ssmParameter(p: SimParameter, withDecryption: boolean) {
    return {
      Name: p.name,
      Type: p.type,
      Value: SimulatedParameters.answeredValue(p, withDecryption),
      Version: p.version,
      LastModifiedDate: p.lastModified.getTime() / 1000,
      ARN: `arn:aws:ssm:${this.group.region}:${this.group.account}:parameter${p.name.startsWith('/') ? '' : '/'}${p.name}`,
      DataType: 'text',
    };
  }

  // --- SQS ---

  private handleSqs(res: ServerResponse, operation: string, body: string): void {
    const requestId = this.group.nextUuid();
    let input: Record<string, unknown> = {};
    try {
      input = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>);
      this.injectFault(operation);
      const answer = this.sqs(operation, input);
      this.calls.push({ service: 'sqs', operation, params: input });
      sendJson(res, 200, answer, requestId, JSON_1_0);
    } catch (err) {
      const error = err instanceof SyntaxError ? new AwsError('InvalidParameterValue', 'invalid JSON') : toAwsError(err);
      this.calls.push({ service: 'sqs', operation, params: input, error: error.code });
      const known = SQS_ERRORS[error.code];
      res
        .writeHead(known?.status ?? error.status, {
          'content-type': JSON_1_0,
          'x-amzn-requestid': requestId,
          'x-amzn-query-error': `${known?.queryCode ?? error.code};Sender`,
        })
        .end(JSON.stringify({ __type: `com.amazonaws.sqs#${error.code}`, message: error.message }));
    }
  }

  private sqs(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case 'GetQueueUrl': {
        const name = stringField(input, 'QueueName');
        const account = typeof input.QueueOwnerAWSAccountId === 'string' ? input.QueueOwnerAWSAccountId : this.group.account;
        const queue = [...this.queues].find((q) => q.name === name && q.account === account);
        if (queue === undefined) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
        return { QueueUrl: queue.url(this.url) };
      }
      case 'ChangeMessageVisibility': {
        const queue = this.queueAt(stringField(input, 'QueueUrl'));
        const seconds = input.VisibilityTimeout;
        if (typeof seconds !== 'number') throw new AwsError('InvalidParameterValue', 'VisibilityTimeout is required');
        queue.changeVisibility(stringField(input, 'ReceiptHandle'), seconds);
        return {};
      }
      default:
        throw new AwsError('UnsupportedOperation', `unknown operation ${operation}`);
    }
  }

  /** The queue a queue URL names: its path is /<account>/<name>, whatever the host. */
  private queueAt(queueUrl: string): SimulatedFifoQueue {
    let path: string;
    try {
      path = new URL(queueUrl).pathname;
    } catch {
      throw new AwsError('InvalidAddress', `The address ${queueUrl} is not valid for this endpoint.`, 404);
    }
    const queue = [...this.queues].find((q) => path === `/${q.account}/${q.name}`);
    if (queue === undefined) throw new AwsError('QueueDoesNotExist', 'The specified queue does not exist.');
    return queue;
  }

  // --- IMDSv2 ---

  private handleImds(req: IncomingMessage, res: ServerResponse, path: string): void {
    const match = /^\/imds\/(i-[0-9a-f]+)(\/latest\/.*)$/.exec(path);
    const instance = match?.[1] === undefined ? undefined : this.group.instance(match[1]);
    if (match === null || instance === undefined || instance.ec2State !== 'running') {
      res.writeHead(404).end('Not Found');
      return;
    }
    const resource = match[2];
    if (resource === '/latest/api/token') {
      const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
      if (req.method !== 'PUT' || !Number.isInteger(ttl) || ttl < 1 || ttl > 21600) {
        res.writeHead(400).end('Bad Request');
        return;
      }
      const token = `${instance.id}.${this.group.nextUuid()}`;
      this.imdsTokens.add(token);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-aws-ec2-metadata-token-ttl-seconds': String(ttl) }).end(token);
      return;
    }
    const token = req.headers['x-aws-ec2-metadata-token'];
    if (typeof token !== 'string' || !this.imdsTokens.has(token) || !token.startsWith(`${instance.id}.`)) {
      res.writeHead(401).end('Unauthorized');
      return;
    }
    const values: Record<string, string> = {
      '/latest/meta-data/instance-id': instance.id,
      '/latest/meta-data/local-ipv4': instance.privateIp,
      '/latest/meta-data/placement/availability-zone': instance.availabilityZone,
    };
    const value = resource === undefined ? undefined : values[resource];
    if (req.method !== 'GET' || value === undefined) {
      res.writeHead(404).end('Not Found');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(value);
  }
}

/** Starts a simulated cloud on a loopback address. */
export async function startSimulatedCloud(options: SimulatedCloudOptions = {}): Promise<SimulatedCloud> {
  return new SimulatedCloud(options).start();
}

// --- helpers ---

const SSM_OPERATIONS = new Set([
  'GetParameter',
  'PutParameter',
  'DeleteParameter',
  'GetParametersByPath',
  'AddTagsToResource',
  'ListTagsForResource',
]);
const SQS_OPERATIONS = new Set(['GetQueueUrl', 'ChangeMessageVisibility']);
const JSON_1_0 = 'application/x-amz-json-1.0';
const JSON_1_1 = 'application/x-amz-json-1.1';

function serviceOf(operation: string): Service {
  if (SSM_OPERATIONS.has(operation)) return 'ssm';
  if (SQS_OPERATIONS.has(operation)) return 'sqs';
  return operation === 'DescribeInstances' ? 'ec2' : 'autoscaling';
}

function toAwsError(err: unknown): AwsError {
  if (err instanceof AwsError) return err;
  if (err instanceof SimValidationError) return new AwsError('ValidationError', err.message);
  if (err instanceof SimParameterError) return new AwsError(err.code, err.message);
  if (err instanceof SimQueueError) return new AwsError(err.code, err.message);
  return new AwsError('InternalFailure', err instanceof Error ? err.message : String(err), 500);
}

function lifecycleRef(params: Record<string, string>) {
  const groupName = params.AutoScalingGroupName;
  const hookName = params.LifecycleHookName;
  if (groupName === undefined || hookName === undefined)
    throw new AwsError('ValidationError', 'AutoScalingGroupName and LifecycleHookName are required');
  if (params.InstanceId === undefined && params.LifecycleActionToken === undefined) {
    throw new AwsError('ValidationError', 'Either InstanceId or LifecycleActionToken must be specified');
  }
  return {
    groupName,
    hookName,
    ...(params.InstanceId === undefined ? {} : { instanceId: params.InstanceId }),
    ...(params.LifecycleActionToken === undefined ? {} : { token: params.LifecycleActionToken }),
  };
}

function groupXml(group: SimulatedGroup): string {
  const instances = group
    .instances()
    .map((i) => `<member>${asgInstanceFields(i)}</member>`)
    .join('');
  return (
    `<member><AutoScalingGroupName>${esc(group.name)}</AutoScalingGroupName>` +
    `<AutoScalingGroupARN>arn:aws:autoscaling:${group.region}:${group.account}:autoScalingGroup:sim:autoScalingGroupName/${esc(group.name)}</AutoScalingGroupARN>` +
    `<MinSize>0</MinSize><MaxSize>100</MaxSize><DesiredCapacity>${group.desiredCapacity}</DesiredCapacity>` +
    `<DefaultCooldown>300</DefaultCooldown><HealthCheckType>EC2</HealthCheckType><CreatedTime>2024-01-01T00:00:00Z</CreatedTime>` +
    `<AvailabilityZones>${[...new Set(group.instances().map((i) => i.availabilityZone))].map((z) => `<member>${z}</member>`).join('')}</AvailabilityZones>` +
    `<Instances>${instances}</Instances></member>`
  );
}

function asgInstanceFields(i: SimInstance): string {
  return (
    `<InstanceId>${i.id}</InstanceId><InstanceType>t3.small</InstanceType><AvailabilityZone>${i.availabilityZone}</AvailabilityZone>` +
    `<LifecycleState>${i.lifecycleState}</LifecycleState><HealthStatus>${i.healthStatus}</HealthStatus><ProtectedFromScaleIn>false</ProtectedFromScaleIn>`
  );
}

const EC2_STATE_CODES: Record<SimInstance['ec2State'], number> = { running: 16, 'shutting-down': 32, terminated: 48 };

function ec2InstanceFields(i: SimInstance): string {
  // As EC2 does: a terminated instance has neither its private address nor its private DNS name any more.
  const network =
    i.ec2State === 'terminated'
      ? '<privateDnsName/>'
      : `<privateDnsName>${privateDnsName(i)}</privateDnsName><privateIpAddress>${i.privateIp}</privateIpAddress>`;
  return (
    `<instanceId>${i.id}</instanceId><imageId>ami-00000000000000000</imageId>` +
    `<instanceState><code>${EC2_STATE_CODES[i.ec2State]}</code><name>${i.ec2State}</name></instanceState>` +
    `<instanceType>t3.small</instanceType><launchTime>${i.launchTime.toISOString()}</launchTime>` +
    `<placement><availabilityZone>${i.availabilityZone}</availabilityZone></placement>${network}`
  );
}

/** EC2's IP-based private DNS name: ip-10-0-0-1.ec2.internal in us-east-1, ip-10-0-0-1.<region>.compute.internal elsewhere. */
export function privateDnsName(i: Pick<SimInstance, 'privateIp' | 'availabilityZone'>): string {
  const region = i.availabilityZone.replace(/[a-z]$/, '');
  const host = `ip-${i.privateIp.replaceAll('.', '-')}`;
  return region === 'us-east-1' ? `${host}.ec2.internal` : `${host}.${region}.compute.internal`;
}

/** `Prefix.1`, `Prefix.2`, ... in index order. */
function listParam(params: Record<string, string>, prefix: string): string[] {
  return Object.entries(params)
    .filter(([key]) => key.startsWith(prefix) && /^\d+$/.test(key.slice(prefix.length)))
    .sort(([a], [b]) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)))
    .map(([, value]) => value);
}

function numberParam(raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : Number(raw);
}

/** Opaque NextToken pagination over a list computed afresh on every call. */
function paginate<T>(items: readonly T[], token: string | undefined, size: number): { page: T[]; nextToken: string | undefined } {
  let offset = 0;
  if (token !== undefined) {
    const decoded = /^offset:(\d+)$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
    if (decoded?.[1] === undefined) throw new AwsError('InvalidNextToken', 'The specified NextToken is not valid');
    offset = Number(decoded[1]);
  }
  const end = offset + size;
  return {
    page: items.slice(offset, end),
    nextToken: end < items.length ? Buffer.from(`offset:${end}`).toString('base64url') : undefined,
  };
}

function stringField(input: Record<string, unknown>, field: string): string {
  const value = input[field];
  if (typeof value !== 'string') throw new AwsError('ValidationException', `${field} is required`);
  return value;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function sendXml(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml;charset=UTF-8' }).end(xml);
}

function sendJson(res: ServerResponse, status: number, body: unknown, requestId?: string, contentType = JSON_1_1): void {
  res
    .writeHead(status, { 'content-type': contentType, ...(requestId === undefined ? {} : { 'x-amzn-requestid': requestId }) })
    .end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** SSM's Tags list ([{Key, Value}]) as a record; undefined when absent. */
function tagsField(input: Record<string, unknown>): Record<string, string> | undefined {
  if (input.Tags === undefined) return undefined;
  if (!Array.isArray(input.Tags)) throw new AwsError('ValidationException', 'Tags must be a list');
  const tags: Record<string, string> = {};
  for (const tag of input.Tags as unknown[]) {
    const { Key, Value } = (tag ?? {}) as { Key?: unknown; Value?: unknown };
    if (typeof Key !== 'string' || typeof Value !== 'string') throw new AwsError('ValidationException', 'a tag needs a Key and a Value');
    tags[Key] = Value;
  }
  return tags;
}
