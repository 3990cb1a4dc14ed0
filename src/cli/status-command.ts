// `elastic-etcd status`: one screen that says whether the cluster is healthy: every member, the quorum margin,
// the active alarms and, with --auto-scaling-group, the group's instances side by side with the members.
// `-o json` prints the same as one JSON object of a documented, versioned shape (statusJsonSchema below).
// Exit status: 0 healthy, 1 degraded (or no endpoint answered), 2 usage error.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as z from '../adapters/zod.js';
import {
  AutoScalingAdapter,
  AwsCallError,
  createAwsClients,
  Ec2Adapter,
  GroupNotFoundError,
  InvalidIdentifierError,
} from '../adapters/aws/index.js';
import { validateGroupName } from '../adapters/aws/identifiers.js';
import { CLUSTER_DEFAULTS } from '../core/defaults.js';
import { errorMessage } from '../core/errors.js';
import { memberIdToHex } from '../core/ids.js';
import { formatStatusTable, type StatusProblemCode, type StatusSummary } from '../core/status.js';
import { parseMemberURLList } from '../core/urls.js';
import { observeStatus, readGroupInstances, type TlsFailureSide } from '../services/status.js';
import type { EtcdConnection } from '../services/connection.js';
import { CONNECTION_FLAGS, toEtcdConnection, userAuth } from './connection.js';
import type { CliDependencies, CliIO } from './context.js';
import { parseDurationMs } from './duration.js';
import { CommandFailedError, EXIT_FAILED, EXIT_OK, UsageError } from './errors.js';
import { StderrLogger } from './logger.js';
import type { ConnectionOptions, Environment } from './options.js';

export const STATUS_HELP = `usage: elastic-etcd status (--endpoints URLS | --auto-scaling-group NAME) [options]

Shows whether the cluster is healthy: every member (name, ID, voter or learner, started, healthy, leader, raft
index and lag behind the leader, DB size and size in use, version, active alarms such as NOSPACE or CORRUPT),
the quorum margin (how many more voter failures it survives) and, with --auto-scaling-group, the group's
instances side by side with the members (matched by name or by private IP in the peer URLs). Every member is
asked at once, each bounded by --health-timeout: a hung member costs one timeout. Changes nothing.
Exit status: 0 healthy, 1 degraded (the reasons are listed) or no endpoint answered, 2 usage error.

  -o, --output table|json       a table (default) or one JSON object (format "elastic-etcd/status", version 1)
  --endpoints URLS              client URLs of members, comma-separated (ELASTIC_ETCD_ENDPOINTS); with a group
                                and no --endpoints, the client URLs of the group's live instances
  --auto-scaling-group NAME     show this Auto Scaling group's instances beside the members (AWS credentials
                                and region as for the AWS CLI; ELASTIC_ETCD_AUTO_SCALING_GROUP)
  --region REGION               the group's region (default: AWS_REGION)
  --client-port PORT            the members' client port, to reach the group's instances (default ${CLUSTER_DEFAULTS.clientPort})
  --health-timeout DURATION     bound for each member's answer (default 2s)
  --command-timeout DURATION    bound for one request (default 5s)
  --cacert FILE, --cert FILE, --key FILE, --insecure-skip-tls-verify, --user NAME[:PASSWORD], --password P
                                TLS and authentication, as for join (and ELASTIC_ETCD_* variables)
`;

const HINT = 'run elastic-etcd status --help for usage';

const FLAGS = {
  output: { type: 'string', short: 'o' },
  endpoints: { type: 'string' },
  'auto-scaling-group': { type: 'string' },
  region: { type: 'string' },
  'client-port': { type: 'string' },
  ...CONNECTION_FLAGS,
  help: { type: 'boolean', short: 'h' },
} as const;

export type StatusOutput = 'table' | 'json';

export interface StatusCommandOptions {
  readonly output: StatusOutput;
  readonly endpoints: readonly string[];
  readonly group?: string;
  readonly region?: string;
  readonly connection: ConnectionOptions;
}

/** Parses `status`'s arguments (flag > non-empty ELASTIC_ETCD_* variable > default); 'help' when asked for it. */
export function parseStatusCommandLine(argv: readonly string[], env: Environment): StatusCommandOptions | 'help' {
  let values: { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string };
  try {
    ({ values } = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`status: ${errorMessage(err)}`, HINT);
  }
  if (values.help === true) return 'help';
  const fromEnv = (name: string): string | undefined => {
    const raw = env[`ELASTIC_ETCD_${name.toUpperCase().replaceAll('-', '_')}`]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  type StringFlag = Exclude<keyof typeof FLAGS, 'help' | 'insecure-skip-tls-verify'>;
  const value = (name: StringFlag): string | undefined => {
    const given = values[name]?.trim();
    return given === undefined || given === '' ? (name === 'output' || name === 'region' ? undefined : fromEnv(name)) : given;
  };

  const output = value('output') ?? 'table';
  if (output !== 'table' && output !== 'json')
    throw new UsageError(`-o ${JSON.stringify(output)} is not an output format`, 'use -o table or -o json');

  const group = value('auto-scaling-group');
  if (group !== undefined) {
    try {
      validateGroupName(group);
    } catch (err) {
      if (err instanceof InvalidIdentifierError) throw new UsageError(err.message, HINT);
      throw err;
    }
  }
  const region = value('region');
  if (region !== undefined && !/^[a-z0-9-]+$/.test(region))
    throw new UsageError(`--region ${JSON.stringify(region)} is not a region name`, HINT);

  const rawEndpoints = value('endpoints');
  let endpoints: string[] = [];
  if (rawEndpoints !== undefined) {
    try {
      endpoints = parseMemberURLList(rawEndpoints);
    } catch (err) {
      throw new UsageError(`--endpoints: ${errorMessage(err)}`, 'pass client URLs such as http://10.0.0.1:2379, comma-separated');
    }
  }
  if (endpoints.length === 0 && group === undefined)
    throw new UsageError(
      'status needs --endpoints or --auto-scaling-group to find the cluster',
      'pass --endpoints=http://10.0.0.1:2379,... or --auto-scaling-group=NAME',
    );

  const duration = (name: 'command-timeout' | 'health-timeout', fallback: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const ms = parseDurationMs(raw);
    if (ms === undefined || ms <= 0)
      throw new UsageError(`--${name}=${JSON.stringify(raw)} is not a duration`, 'use a duration such as 500ms, 2s or 1m');
    return ms;
  };
  const rawPort = value('client-port');
  const clientPort = rawPort === undefined ? CLUSTER_DEFAULTS.clientPort : Number(rawPort);
  if (!/^[0-9]+$/.test(rawPort ?? '0') || !Number.isInteger(clientPort) || clientPort < 1 || clientPort > 65_535)
    throw new UsageError(`--client-port=${JSON.stringify(rawPort)} is not a port`, 'use a port number from 1 to 65535');

  const auth = userAuth(value('user'), value('password'));
  const caFile = value('cacert');
  const certFile = value('cert');
  const keyFile = value('key');
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError('--cert and --key go together', 'pass both the client certificate and its key, or neither');
  const insecure = values['insecure-skip-tls-verify'] ?? fromEnv('insecure-skip-tls-verify') === 'true';
  return {
    output,
    endpoints,
    ...(group !== undefined && { group }),
    ...(region !== undefined && { region }),
    connection: {
      endpoints,
      clientPort,
      commandTimeoutMs: duration('command-timeout', 5_000),
      healthTimeoutMs: duration('health-timeout', CLUSTER_DEFAULTS.healthTimeoutMs),
      insecureSkipTlsVerify: insecure,
      ...(caFile !== undefined && { caFile }),
      ...(certFile !== undefined && { certFile }),
      ...(keyFile !== undefined && { keyFile }),
      ...(auth !== undefined && { auth }),
    },
  };
}

/** Version of the `-o json` shape; raised with any change to it (the schema is closed: no other field passes). */
export const STATUS_JSON_VERSION = 1;

const hexId = z.string().check(z.regex(/^[0-9a-f]{1,16}$/, 'a member or cluster ID in lowercase hex'));
const count = z.int().check(z.nonnegative());
const problemCodes = [
  'quorum-lost',
  'no-leader',
  'member-unhealthy',
  'member-unstarted',
  'alarm',
  'alarms-unknown',
  'member-without-instance',
  'instance-without-member',
] as const satisfies readonly StatusProblemCode[];

/**
 * The `-o json` output of `elastic-etcd status`, format "elastic-etcd/status" version 1. IDs are lowercase hex
 * (as etcdctl -w table prints them); sizes are bytes; absent values are null, never left out. Consumers should
 * check `format` and `version` and ignore fields they do not know.
 */
export const statusJsonSchema = z.strictObject({
  format: z.literal('elastic-etcd/status'),
  version: z.literal(STATUS_JSON_VERSION),
  clusterId: hexId,
  verdict: z.enum(['healthy', 'degraded']),
  leader: z.nullable(hexId),
  quorum: z.strictObject({ voters: count, healthyVoters: count, needed: count, margin: z.int() }),
  members: z.array(
    z.strictObject({
      id: hexId,
      name: z.string(),
      role: z.enum(['voter', 'learner']),
      started: z.boolean(),
      healthy: z.boolean(),
      leader: z.boolean(),
      raftIndex: z.nullable(count),
      lag: z.nullable(count),
      dbSize: z.nullable(count),
      dbSizeInUse: z.nullable(count),
      version: z.nullable(z.string()),
      alarms: z.array(z.string()),
      problem: z.nullable(z.string()),
      instanceId: z.nullable(z.string()),
    }),
  ),
  alarms: z.array(z.strictObject({ memberId: hexId, alarm: z.string() })),
  alarmsError: z.nullable(z.string()),
  group: z.nullable(
    z.strictObject({
      name: z.string(),
      instances: z.array(
        z.strictObject({
          instanceId: z.string(),
          privateIp: z.nullable(z.string()),
          lifecycleState: z.string(),
          ec2State: z.nullable(z.string()),
          live: z.boolean(),
          memberId: z.nullable(hexId),
        }),
      ),
      membersWithoutInstance: z.array(hexId),
      instancesWithoutMember: z.array(z.string()),
    }),
  ),
  problems: z.array(z.strictObject({ code: z.enum(problemCodes), message: z.string() })),
});

export type StatusJson = z.infer<typeof statusJsonSchema>;

/** The summary in the `-o json` shape. */
export function statusToJson(summary: StatusSummary): StatusJson {
  const num = (v: bigint | undefined): number | null => (v === undefined ? null : Number(v));
  return {
    format: 'elastic-etcd/status',
    version: STATUS_JSON_VERSION,
    clusterId: summary.clusterId.toString(16),
    verdict: summary.verdict,
    leader: summary.leader === undefined ? null : memberIdToHex(summary.leader),
    quorum: { ...summary.quorum },
    members: summary.members.map((m) => ({
      id: memberIdToHex(m.id),
      name: m.name,
      role: m.role,
      started: m.started,
      healthy: m.healthy,
      leader: m.leader,
      raftIndex: num(m.raftIndex),
      lag: num(m.lag),
      dbSize: num(m.dbSize),
      dbSizeInUse: num(m.dbSizeInUse),
      version: m.version ?? null,
      alarms: [...m.alarms],
      problem: m.problem ?? null,
      instanceId: m.instanceId ?? null,
    })),
    alarms: summary.alarms.map((a) => ({ memberId: memberIdToHex(a.memberId), alarm: a.alarm })),
    alarmsError: summary.alarmsError ?? null,
    group:
      summary.group === undefined
        ? null
        : {
            name: summary.group.name,
            instances: summary.group.instances.map((i) => ({
              instanceId: i.instanceId,
              privateIp: i.privateIp ?? null,
              lifecycleState: i.lifecycleState,
              ec2State: i.ec2State ?? null,
              live: i.live,
              memberId: i.memberId === undefined ? null : memberIdToHex(i.memberId),
            })),
            membersWithoutInstance: summary.group.membersWithoutInstance.map(memberIdToHex),
            instancesWithoutMember: [...summary.group.instancesWithoutMember],
          },
    problems: summary.problems.map((p) => ({ code: p.code, message: p.message })),
  };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * Checks the PEM files named by --cacert, --cert and --key before any connection, so a wrong file is a usage
 * error naming the flag (exit 2) instead of a handshake failure on every member: the CA file holds certificates,
 * the certificate is one, the key is a private key and belongs to it.
 */
export function checkTlsMaterial(connection: EtcdConnection, files: Pick<ConnectionOptions, 'caFile' | 'certFile' | 'keyFile'>): void {
  const tls = connection.tls;
  if (tls === undefined) return;
  const hint = 'pass PEM files: --cacert the CA certificate, --cert the client certificate, --key its private key';
  const name = (path: string | undefined): string => JSON.stringify(path ?? '');
  if (tls.ca !== undefined) {
    const blocks = tls.ca.toString().match(PEM_CERTIFICATE) ?? [];
    if (blocks.length === 0) throw new UsageError(`--cacert ${name(files.caFile)} holds no PEM certificate`, hint);
    for (const block of blocks) {
      try {
        new X509Certificate(block);
      } catch (err) {
        throw new UsageError(`--cacert ${name(files.caFile)} holds a certificate that cannot be read: ${errorMessage(err)}`, hint);
      }
    }
  }
  if (tls.cert === undefined || tls.key === undefined) return;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(tls.cert);
  } catch {
    throw new UsageError(`--cert ${name(files.certFile)} holds no PEM certificate`, hint);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(tls.key);
  } catch {
    throw new UsageError(`--key ${name(files.keyFile)} holds no PEM private key`, hint);
  }
  if (!certificate.checkPrivateKey(key))
    throw new UsageError(`--key ${name(files.keyFile)} does not belong to the certificate --cert ${name(files.certFile)}`, hint);
}

const TLS_HINTS: Readonly<Record<TlsFailureSide, string>> = {
  'member-certificate': "pass the cluster's CA certificate with --cacert (the stack's output CaCertificateParameter names it)",
  'client-certificate': "pass --cert and --key: a client certificate the cluster's CA issued (the stack's ClientParametersPath)",
  'not-tls': 'the member serves plain HTTP: use http:// endpoints (and no TLS flags)',
};

/** Runs `elastic-etcd status`: 0 healthy, 1 degraded or unreachable; usage errors are thrown (exit 2). */
export async function runStatusCommandLine(
  argv: readonly string[],
  env: Environment,
  io: CliIO,
  deps: Pick<CliDependencies, 'readTlsFiles'>,
): Promise<number> {
  const options = parseStatusCommandLine(argv, env);
  if (options === 'help') {
    io.stdout(STATUS_HELP);
    return EXIT_OK;
  }
  const log = new StderrLogger(io.stderr, 0);
  const connection = await toEtcdConnection(options.connection, deps);
  checkTlsMaterial(connection, options.connection);
  const scheme = connection.tls === undefined ? 'http' : 'https';
  const { clientPort } = options.connection;
  const groupName = options.group;
  let group: { name: string; read: () => ReturnType<typeof readGroupInstances> } | undefined;
  if (groupName !== undefined) {
    const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    const clients = createAwsClients({ maxAttempts: 3, ...(region !== undefined && { region }) });
    group = {
      name: groupName,
      read: async () => {
        try {
          return await readGroupInstances(groupName, new AutoScalingAdapter(clients.autoScaling), new Ec2Adapter(clients.ec2));
        } catch (err) {
          if (err instanceof GroupNotFoundError)
            throw new CommandFailedError(`status: ${err.message}`, 'check --auto-scaling-group and --region', { cause: err });
          if (err instanceof AwsCallError)
            throw new CommandFailedError(`status: reading the group failed: ${err.message}`, 'check the AWS credentials and region', {
              cause: err,
            });
          throw err;
        } finally {
          clients.autoScaling.destroy();
          clients.ec2.destroy();
        }
      },
    };
  }
  const outcome = await observeStatus({
    endpoints: options.endpoints,
    connection,
    ...(group !== undefined && { group }),
    clientURLOf: (ip) => `${scheme}://${ip.includes(':') ? `[${ip}]` : ip}:${clientPort}`,
    log,
    ...(io.signal !== undefined && { signal: io.signal }),
  });
  if (outcome.kind === 'unreachable') {
    const { tls } = outcome;
    if (tls !== undefined) {
      throw new CommandFailedError(
        `status: the TLS handshake with ${tls.endpoint} failed: ${tls.reason} (${tls.code})`,
        TLS_HINTS[tls.side],
      );
    }
    const plain = outcome.endpoints.some((e) => e.startsWith('http://'));
    let hint = 'check --endpoints, the TLS flags and that the members run';
    if (connection.tls !== undefined && plain)
      hint = 'TLS flags were given but the endpoints are http://: a TLS member needs https:// URLs';
    else if (outcome.reset === true && plain)
      hint = 'a TLS member resets plain HTTP: use https:// endpoints with --cacert, --cert and --key';
    else if (outcome.reset === true) hint = 'a plain-HTTP member resets a TLS handshake: use http:// endpoints (and no TLS flags)';
    throw new CommandFailedError(
      `status: no etcd endpoint answered (${outcome.endpoints.length === 0 ? 'the group has no live instance with an address' : outcome.endpoints.join(', ')})${outcome.error === undefined ? '' : `: ${outcome.error}`}`,
      hint,
    );
  }
  const { summary } = outcome;
  io.stdout(options.output === 'json' ? `${JSON.stringify(statusToJson(summary), null, 2)}\n` : formatStatusTable(summary));
  return summary.verdict === 'healthy' ? EXIT_OK : EXIT_FAILED;
}
