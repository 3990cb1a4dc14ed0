// `elastic-etcd status`'s command line without etcd: its flags and usage errors (exit 2, one line, nothing on
// stdout), and the -o json shape against its published schema.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { main, type CliDependencies } from '../../src/cli/run.js';
import { parseStatusCommandLine, STATUS_HELP, statusJsonSchema, statusToJson } from '../../src/cli/status-command.js';
import { summarizeStatus } from '../../src/core/status.js';
import { BASE_ID, member, unstarted } from './fixtures.js';

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    env,
    { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), selfCommand: ['elastic-etcd'] },
    { readTlsFiles: () => Promise.resolve({}) } as unknown as CliDependencies,
  );
  return { code, stdout, stderr };
}

describe('status command line', () => {
  test('flags, ELASTIC_ETCD_* variables and defaults', () => {
    const parsed = parseStatusCommandLine(
      ['--endpoints=http://10.0.0.1:2379,http://10.0.0.2:2379', '-o', 'json', '--health-timeout=500ms'],
      {},
    );
    assert.notEqual(parsed, 'help');
    if (parsed === 'help') return;
    assert.equal(parsed.output, 'json');
    assert.deepEqual(parsed.endpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
    assert.equal(parsed.connection.healthTimeoutMs, 500);
    assert.equal(parsed.connection.commandTimeoutMs, 5_000);
    assert.equal(parsed.group, undefined);

    const fromEnv = parseStatusCommandLine([], { ELASTIC_ETCD_AUTO_SCALING_GROUP: 'etcd-asg', ELASTIC_ETCD_CLIENT_PORT: '2479' });
    assert.notEqual(fromEnv, 'help');
    if (fromEnv === 'help') return;
    assert.equal(fromEnv.output, 'table');
    assert.equal(fromEnv.group, 'etcd-asg');
    assert.deepEqual(fromEnv.endpoints, []);
    assert.equal(fromEnv.connection.clientPort, 2479);
    assert.equal(parseStatusCommandLine(['--help'], {}), 'help');
  });

  test('usage errors: exit 2, one line on stderr, nothing on stdout', async () => {
    const cases: [string[], RegExp][] = [
      [[], /needs --endpoints or --auto-scaling-group/],
      [['--endpoints=http://10.0.0.1:2379', '-o', 'yaml'], /-o "yaml" is not an output format/],
      [['--endpoints=http://10.0.0.1:2379', '--bogus'], /status: Unknown option '--bogus'/],
      [['--endpoints=not a url'], /--endpoints: /],
      [[`--auto-scaling-group=${'g'.repeat(256)}`], /Auto Scaling group name/],
      [['--endpoints=http://10.0.0.1:2379', '--health-timeout=soon'], /--health-timeout="soon" is not a duration/],
      [['--auto-scaling-group=g', '--client-port=70000'], /--client-port="70000" is not a port/],
      [['--endpoints=http://10.0.0.1:2379', '--cert=c.pem'], /--cert and --key go together/],
      [['--endpoints=http://10.0.0.1:2379', '--password=p'], /--password needs --user/],
      [['--endpoints=http://10.0.0.1:2379', 'stray'], /status: /],
    ];
    for (const [args, message] of cases) {
      const result = await run(['status', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^elastic-etcd: [^\n]*\n$/);
      assert.match(result.stderr, message);
    }
  });

  test('--help is the output: stdout, exit 0', async () => {
    const result = await run(['status', '--help']);
    assert.equal(result.code, 0);
    assert.equal(result.stdout, STATUS_HELP);
    assert.equal(result.stderr, '');
  });
});

describe('status -o json', () => {
  test('the shape validates against its schema, IDs in hex, absent values null', () => {
    const summary = summarizeStatus({
      clusterId: 0xabcn,
      members: [member(1), member(2), unstarted(3, { isLearner: true })],
      probes: new Map([
        [
          BASE_ID + 1n,
          {
            kind: 'answered',
            status: {
              clusterId: 0xabcn,
              memberId: BASE_ID + 1n,
              leader: BASE_ID + 1n,
              raftIndex: 42n,
              isLearner: false,
              version: '3.4.23',
              dbSize: 8192n,
              dbSizeInUse: 4096n,
              errors: [],
            },
          },
        ],
        [BASE_ID + 2n, { kind: 'failed', error: 'refused' }],
      ]),
      alarms: [],
      group: {
        name: 'etcd',
        instances: [{ instanceId: 'i-0000000000000001', lifecycleState: 'InService', privateIp: '10.0.0.1', ec2State: 'running' }],
      },
    });
    const json = statusJsonSchema.parse(JSON.parse(JSON.stringify(statusToJson(summary))));
    assert.equal(json.format, 'elastic-etcd/status');
    assert.equal(json.version, 1);
    assert.equal(json.clusterId, 'abc');
    assert.equal(json.verdict, 'degraded');
    assert.equal(json.leader, (BASE_ID + 1n).toString(16));
    const [m1, m2, m3] = json.members;
    assert.deepEqual(
      [m1?.raftIndex, m1?.lag, m1?.dbSize, m1?.dbSizeInUse, m1?.version, m1?.instanceId],
      [42, 0, 8192, 4096, '3.4.23', 'i-0000000000000001'],
    );
    assert.deepEqual([m2?.healthy, m2?.raftIndex, m2?.problem, m2?.instanceId], [false, null, 'refused', null]);
    assert.deepEqual([m3?.started, m3?.role, m3?.name], [false, 'learner', '']);
    assert.deepEqual(json.group?.membersWithoutInstance, [(BASE_ID + 2n).toString(16), (BASE_ID + 3n).toString(16)]);
    // A field the schema does not know is refused: the shape is closed, so a change must raise the version.
    assert.equal(statusJsonSchema.safeParse({ ...json, extra: 1 }).success, false);
  });
});
