// Structured JSON logs and CloudWatch metrics (EMF) behind a small facade, so the orchestration logs one
// line per decision and counts what it did without knowing about Powertools, and tests can capture both.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import type { Logger as ServiceLogger } from '../services/log.js';

/** What the Lambda counts. One metric each, unit Count. */
export type Counter =
  | 'Decisions' // one per handled launch, terminate or reconcile decision
  | 'Additions' // members added
  | 'Removals' // members removed
  | 'Promotions' // learners promoted
  | 'Refusals' // joins refused (the launch was abandoned)
  | 'Ignored' // events ignored (test notification, foreign group, warm pool)
  | 'Malformed' // events rejected as malformed
  | 'UnhealthyReported' // instances reported Unhealthy to the group: their members stayed unhealthy too long
  | 'Failures' // invocations that failed with an error
  | 'Backups' // snapshots stored in S3 (backup.ts)
  | 'BackupFailures' // snapshots that could not be taken or stored
  | 'LaunchesAbandoned' // launch lifecycle actions completed with ABANDON (the group replaces the instance)
  | 'ReconcilePasses'; // reconcile passes that ran to the end: the heartbeat the "no reconcile pass" alarm watches

/**
 * What the reconcile pass measures about the cluster (metrics.ts), one value per pass, each with its unit. The
 * construct's alarms and dashboard read these names (infra/observability.ts).
 */
export const GAUGES = {
  /** Voters (learners not counted). */
  Voters: MetricUnit.Count,
  /** Voters that answered as themselves for this cluster and know a leader. */
  HealthyVoters: MetricUnit.Count,
  /** How many more voter failures the quorum survives: 0 none; negative: lost (-1 when no member answers). */
  QuorumMargin: MetricUnit.Count,
  /** Members that run on no live instance of the group. */
  MembersWithoutInstance: MetricUnit.Count,
  /** Instances in service (or standby) that run no member. */
  InstancesWithoutMember: MetricUnit.Count,
  Learners: MetricUnit.Count,
  /** The largest member database (dbSize) over the space quota, 0..1 (etcd raises NOSPACE at 1). */
  DbSizeOfQuota: MetricUnit.NoUnit,
  /** Age of the newest snapshot of this cluster in the backup bucket. */
  NewestBackupAge: MetricUnit.Seconds,
  /** Raft term increase since the last pass that saw this cluster: every election counts (metrics.ts). */
  LeaderChanges: MetricUnit.Count,
} as const;
export type Gauge = keyof typeof GAUGES;

/** The CloudWatch namespace of every metric, and the one dimension on each (its value: the cluster's namespace). */
export const METRICS_NAMESPACE = 'ElasticEtcd';
export const CLUSTER_DIMENSION = 'cluster';
/** Powertools adds the service name as a second dimension on every metric: alarms name both. */
export const SERVICE_NAME = 'elastic-etcd';

export type Attributes = Readonly<Record<string, unknown>>;

/** The parts of the Lambda context that go on every log line (Powertools' `function_request_id`, `function_arn`, ...). */
export type InvocationContext = Pick<Context, 'awsRequestId' | 'invokedFunctionArn'> &
  Partial<Pick<Context, 'functionName' | 'functionVersion' | 'memoryLimitInMB'>>;

/** The one log line written per decision. */
export interface DecisionRecord {
  readonly trigger: 'launch' | 'terminate' | 'reconcile';
  readonly instanceId?: string;
  /** e.g. join, bootstrap, resume, refuse, remove, skip */
  readonly decision: string;
  readonly reason: string;
  readonly details?: Attributes;
}

export interface Telemetry {
  debug(message: string, attributes?: Attributes): void;
  info(message: string, attributes?: Attributes): void;
  warn(message: string, attributes?: Attributes): void;
  error(message: string, attributes?: Attributes): void;
  /** Logs the decision (one line) and counts it; a `refuse` decision also counts as a refusal. */
  decision(record: DecisionRecord): void;
  count(counter: Counter, value?: number): void;
  /** Records one value of a gauge (the reconcile pass's view of the cluster), in the gauge's unit. */
  gauge(name: Gauge, value: number): void;
  /** Records a duration in milliseconds as metric `<name>Latency`. */
  latency(name: string, milliseconds: number): void;
  /**
   * The invocation's Lambda context, on every log line until the next invocation's: its request ID, function
   * ARN and whether this is the container's cold start.
   */
  addContext(context: InvocationContext): void;
  /** Keys added to every later log line of this event (event ID, instance ID), until `resetKeys`. */
  appendKeys(attributes: Attributes): void;
  /**
   * Forgets every key `appendKeys` added. Called once each event is handled: a warm container handles the next
   * event with the same logger, which must not log this event's IDs.
   */
  resetKeys(): void;
  /** Publishes the buffered metrics; call once at the end of each invocation. */
  flush(): void;
}

export interface TelemetryOptions {
  readonly serviceName?: string;
  /** The CloudWatch namespace (default METRICS_NAMESPACE). */
  readonly namespace?: string;
  /** A key on every log line; also the metrics' cluster dimension unless `clusterDimension` is given. */
  readonly clusterName?: string;
  /**
   * The value of the metrics' `cluster` dimension. The Lambda gives its parameter namespace `<prefix>/<cluster>`:
   * unique per deployment (namespace.ts refuses a second group), where cluster names repeat across stacks.
   */
  readonly clusterDimension?: string;
  /** Where the EMF lines go instead of stdout (tests parse them); each call is one JSON document. */
  readonly emf?: (line: string) => void;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** No log output and no metrics output (tests). */
  readonly silent?: boolean;
}

function recordDecision(telemetry: Telemetry, record: DecisionRecord): void {
  telemetry.info('decision', {
    trigger: record.trigger,
    ...(record.instanceId === undefined ? {} : { instanceId: record.instanceId }),
    decision: record.decision,
    reason: record.reason,
    ...(record.details ?? {}),
  });
  telemetry.count('Decisions');
  if (record.decision === 'refuse') telemetry.count('Refusals');
}

/** The production telemetry: Powertools Logger (JSON on stdout) and Metrics (EMF on stdout). */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry & { readonly logger: Logger; readonly metrics: Metrics } {
  const serviceName = options.serviceName ?? SERVICE_NAME;
  const logger = new Logger({
    serviceName,
    logLevel: options.silent === true ? 'SILENT' : (options.logLevel ?? 'INFO'),
    ...(options.clusterName === undefined ? {} : { persistentKeys: { cluster: options.clusterName } }),
  });
  const dimension = options.clusterDimension ?? options.clusterName;
  const metrics = new Metrics({
    serviceName,
    namespace: options.namespace ?? METRICS_NAMESPACE,
    ...(dimension === undefined ? {} : { defaultDimensions: { [CLUSTER_DIMENSION]: dimension } }),
  });
  const emf = options.emf;
  const telemetry = {
    logger,
    metrics,
    debug: (message: string, attributes?: Attributes) => logger.debug(message, { ...attributes }),
    info: (message: string, attributes?: Attributes) => logger.info(message, { ...attributes }),
    warn: (message: string, attributes?: Attributes) => logger.warn(message, { ...attributes }),
    error: (message: string, attributes?: Attributes) => logger.error(message, { ...attributes }),
    decision: (record: DecisionRecord) => recordDecision(telemetry, record),
    count: (counter: Counter, value = 1) => metrics.addMetric(counter, MetricUnit.Count, value),
    gauge: (name: Gauge, value: number) => metrics.addMetric(name, GAUGES[name], value),
    latency: (name: string, milliseconds: number) => metrics.addMetric(`${name}Latency`, MetricUnit.Milliseconds, milliseconds),
    // Powertools reads only these data fields of the context (and works out the cold start itself).
    addContext: (context: InvocationContext) => logger.addContext(context as Context),
    appendKeys: (attributes: Attributes) => logger.appendKeys({ ...attributes }),
    resetKeys: () => logger.resetKeys(),
    flush: () => {
      if (options.silent === true) metrics.clearMetrics();
      else if (emf === undefined) metrics.publishStoredMetrics();
      else {
        // What publishStoredMetrics does, with the line handed over instead of written to stdout.
        if (metrics.hasStoredMetrics()) emf(JSON.stringify(metrics.serializeMetrics()));
        metrics.clearMetrics();
        metrics.clearDimensions();
        metrics.clearMetadata();
      }
    },
  };
  return telemetry;
}

/** The telemetry as the services' logger: what the services log goes into the same JSON lines. */
export function loggerFor(telemetry: Telemetry): ServiceLogger {
  return {
    debug: (_level, message, fields) => telemetry.debug(message, fields),
    info: (message, fields) => telemetry.info(message, fields),
    warn: (message, fields) => telemetry.warn(message, fields),
    error: (message, fields) => telemetry.error(message, fields),
  };
}

export interface CapturedLog {
  readonly level: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  readonly message: string;
  readonly attributes: Attributes;
}

/** Telemetry that records everything in memory: for tests, which assert on what was logged and counted. */
export interface CapturingTelemetry extends Telemetry {
  readonly logs: CapturedLog[];
  /** Every recorded value per metric name, in order; `flush` moves nothing, so tests can read them after. */
  readonly metrics: Map<string, number[]>;
  readonly flushes: number;
  /** Sum of a metric's values (0 when never recorded). */
  total(metric: string): number;
  decisions(): Attributes[];
}

export function createCapturingTelemetry(): CapturingTelemetry {
  const logs: CapturedLog[] = [];
  const metrics = new Map<string, number[]>();
  let context: Attributes = {};
  let keys: Attributes = {};
  let coldStart = true;
  let flushes = 0;
  const log = (level: CapturedLog['level']) => (message: string, attributes?: Attributes) => {
    logs.push({ level, message, attributes: { ...context, ...keys, ...attributes } });
  };
  const add = (name: string, value: number) => metrics.set(name, [...(metrics.get(name) ?? []), value]);
  const telemetry: CapturingTelemetry = {
    logs,
    metrics,
    get flushes() {
      return flushes;
    },
    debug: log('DEBUG'),
    info: log('INFO'),
    warn: log('WARN'),
    error: log('ERROR'),
    decision: (record) => recordDecision(telemetry, record),
    count: (counter, value = 1) => add(counter, value),
    gauge: (name, value) => add(name, value),
    latency: (name, milliseconds) => add(`${name}Latency`, milliseconds),
    // The keys Powertools writes for the context (function_request_id, cold_start), kept apart from appended keys.
    addContext: (c) => {
      context = { function_request_id: c.awsRequestId, function_arn: c.invokedFunctionArn, cold_start: coldStart };
      coldStart = false;
    },
    appendKeys: (attributes) => {
      keys = { ...keys, ...attributes };
    },
    resetKeys: () => {
      keys = {};
    },
    flush: () => {
      flushes++;
    },
    total: (metric) => (metrics.get(metric) ?? []).reduce((a, b) => a + b, 0),
    decisions: () => logs.filter((l) => l.message === 'decision').map((l) => l.attributes),
  };
  return telemetry;
}
