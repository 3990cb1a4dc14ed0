// The command line without any I/O: the original README's invocations verbatim, flag > variable > default
// precedence, value validation, and every usage error as exit 2 with one line on stderr and nothing on stdout.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatDuration, parseDurationMs } from '../../src/cli/duration.js';
import { parseCommandLine, type JoinOptions } from '../../src/cli/options.js';
import { main, type CliDependencies } from '../../src/cli/run.js';

async function join(argv: string[], env: Record<string, string> = {}): Promise<JoinOptions> {
  const command = await parseCommandLine(argv, env);
  assert.equal(command.kind, 'join');
  return command.options;
}

/** Every dependency fails loudly: a usage error must be detected before anything is touched. */
const untouchable = new Proxy({} as CliDependencies, {
  get: (_target, name) => () => {
    throw new Error(`usage errors must not reach ${String(name)}`);
  },
});

async function runMain(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    env,
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), selfCommand: ['/usr/bin/elastic-etcd'] },
    untouchable,
  );
  return { code, stdout, stderr };
}

describe('the original README invocations, verbatim', () => {
  test('-o flags with -v=6 -logtostderr and single-dash long flags', async () => {
    const o = await join([
      '-v=6',
      '-logtostderr',
      '-o',
      'flags',
      '-discovery=https://discovery.etcd.io/abc',
      '-name=master2',
      '-client-port=2379',
      '-initial-advertise-peer-urls=http://1.2.3.4:2380',
    ]);
    assert.equal(o.format, 'flags');
    assert.equal(o.verbosity, 6);
    assert.equal(o.discoveryURL, 'https://discovery.etcd.io/abc');
    assert.deepEqual(o.self, { name: 'master2', peerURLs: ['http://1.2.3.4:2380'] });
    assert.equal(o.connection.clientPort, 2379);
    assert.equal(o.dataDir, 'master2.etcd');
  });

  test('the cloud-config drop-in invocation', async () => {
    const o = await join([
      '-o',
      'dropin',
      '-data-dir=/var/lib/etcd2',
      '-initial-advertise-peer-urls=http://10.0.0.7:2380',
      '-name=10.0.0.7',
      '-discovery=https://discovery.etcd.io/abc',
      '-v=6',
      '-logtostderr',
    ]);
    assert.equal(o.format, 'dropin');
    assert.equal(o.dataDir, '/var/lib/etcd2');
    assert.equal(o.self.name, '10.0.0.7');
  });

  test('the eval example (which passes -o flags)', async () => {
    const o = await join([
      '-v=6',
      '-logtostderr',
      '-discovery=https://discovery.etcd.io/abc',
      '-o',
      'flags',
      '-name=master2',
      '-client-port=2379',
      '-initial-advertise-peer-urls=http://1.2.3.4:2380',
    ]);
    assert.equal(o.format, 'flags');
  });
});

describe('defaults and precedence', () => {
  const base = ['--name=n1', '--discovery=http://d.example:8087/t'];

  test("the original's defaults", async () => {
    const o = await join(base);
    assert.equal(o.format, 'env');
    assert.equal(o.strategy, 'replace');
    assert.equal(o.clusterSize, 'from-discovery');
    assert.equal(o.connection.clientPort, 2379);
    assert.deepEqual(o.self.peerURLs, ['http://localhost:2380']);
    assert.equal(o.joinAs, 'learner');
    assert.equal(o.dryRun, false);
    assert.equal(o.connection.healthTimeoutMs, 2000);
    assert.equal(o.lockTimeoutMs, 60_000);
  });

  test('flag > non-empty variable > default; an empty variable is unset', async () => {
    const env = { ELASTIC_ETCD_JOIN_STRATEGY: 'prune', ELASTIC_ETCD_CLIENT_PORT: '4001', ELASTIC_ETCD_CLUSTER_SIZE: '' };
    const fromEnv = await join(base, env);
    assert.equal(fromEnv.strategy, 'prune');
    assert.equal(fromEnv.connection.clientPort, 4001);
    assert.equal(fromEnv.clusterSize, 'from-discovery');
    const fromFlag = await join([...base, '--join-strategy=add', '-client-port', '2379'], env);
    assert.equal(fromFlag.strategy, 'add');
    assert.equal(fromFlag.connection.clientPort, 2379);
    const all = await join([], {
      ELASTIC_ETCD_NAME: 'envnode',
      ELASTIC_ETCD_DISCOVERY: 'http://d.example/t',
      ELASTIC_ETCD_DATA_DIR: '/data',
      ELASTIC_ETCD_INITIAL_ADVERTISE_PEER_URLS: 'http://10.0.0.1:2380,http://10.0.0.1:2480',
      ELASTIC_ETCD_JOIN_AS: 'voter',
      ELASTIC_ETCD_HEALTH_TIMEOUT: '500ms',
      ELASTIC_ETCD_INSECURE_SKIP_TLS_VERIFY: 'true',
      ELASTIC_ETCD_USER: 'root:secret',
    });
    assert.equal(all.self.name, 'envnode');
    assert.equal(all.dataDir, '/data');
    assert.deepEqual(all.self.peerURLs, ['http://10.0.0.1:2380', 'http://10.0.0.1:2480']);
    assert.equal(all.joinAs, 'voter');
    assert.equal(all.connection.healthTimeoutMs, 500);
    assert.equal(all.connection.insecureSkipTlsVerify, true);
    assert.deepEqual(all.connection.auth, { username: 'root', password: 'secret' });
  });

  test('strategies prepare and prepared are the same; cluster size -1, 0 and N', async () => {
    assert.equal((await join([...base, '--join-strategy=prepare'])).strategy, 'prepare');
    assert.equal((await join([...base, '--join-strategy=prepared'])).strategy, 'prepare');
    assert.equal((await join([...base, '--cluster-size=-1'])).clusterSize, 'from-discovery');
    assert.equal((await join([...base, '--cluster-size=0'])).clusterSize, 'unlimited');
    assert.equal((await join([...base, '-cluster-size=5'])).clusterSize, 5);
  });

  test('--unhealthy-after: unset by default (one failed check), a duration for replace and prune', async () => {
    assert.equal((await join(base)).unhealthyAfterMs, undefined);
    assert.equal((await join([...base, '--unhealthy-after=2m'])).unhealthyAfterMs, 120_000);
    assert.equal((await join([...base, '--join-strategy=prune'], { ELASTIC_ETCD_UNHEALTHY_AFTER: '90s' })).unhealthyAfterMs, 90_000);
  });

  test('TLS and auth flags as etcdctl names them; glog flags are accepted', async () => {
    const o = await join([
      ...base,
      '--cacert=/ca.pem',
      '--cert=/c.pem',
      '--key=/k.pem',
      '--user=u',
      '--password=p',
      '-alsologtostderr',
      '-stderrthreshold=2',
      '-vmodule=x=1',
      '-log_dir=/tmp',
      '-log_backtrace_at=:0',
    ]);
    assert.equal(o.connection.caFile, '/ca.pem');
    assert.equal(o.connection.certFile, '/c.pem');
    assert.deepEqual(o.connection.auth, { username: 'u', password: 'p' });
  });

  test('promote takes the connection flags and a timeout', async () => {
    const command = await parseCommandLine(['-v=2', 'promote', '--name=n1', '--endpoints=http://10.0.0.1:2379', '--timeout=90s'], {});
    assert.equal(command.kind, 'promote');
    assert.equal(command.kind === 'promote' && command.options.timeoutMs, 90_000);
  });
});

describe('help', () => {
  test('--help, -h and "help" print help on stdout and exit 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['promote', '--help']]) {
      const run = await runMain(argv);
      assert.equal(run.code, 0, argv.join(' '));
      assert.match(run.stdout, /^elastic-etcd/);
      assert.equal(run.stderr, '');
    }
  });
});

describe('usage errors: exit 2, one line on stderr naming the problem and what to do, nothing on stdout', () => {
  const ok = ['--name=n1', '--discovery=http://d.example/t'];
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ['unknown flag', [...ok, '-bogus=1'], {}, /unknown option -bogus/],
    ['stray argument', [...ok, 'extra'], {}, /unknown argument "extra"/],
    ['join-only flag on promote', ['promote', ...ok, '-o', 'env'], {}, /unknown option -o/],
    ['missing name', ['--discovery=http://d.example/t'], {}, /--name is required/],
    ['empty name from an empty flag', ['-name=', '--discovery=http://d.example/t'], {}, /--name is required/],
    ['name with a comma', ['--name=a,b', '--discovery=http://d.example/t'], {}, /invalid --name/],
    ['missing discovery', ['--name=n1'], {}, /--discovery is required/],
    ['bad discovery URL', ['--name=n1', '--discovery=ftp://x/t'], {}, /discovery/i],
    ['promote without discovery or endpoints', ['promote', '--name=n1'], {}, /--discovery or --endpoints/],
    ['bad output format', [...ok, '-o', 'yaml'], {}, /output format -o "yaml"/],
    ['bad strategy', [...ok, '--join-strategy=dumb'], {}, /--join-strategy "dumb"/],
    ['bad join-as', [...ok, '--join-as=observer'], {}, /--join-as/],
    ['peer URL without port', [...ok, '--initial-advertise-peer-urls=http://10.0.0.1'], {}, /explicit port/],
    ['peer URL with a path', [...ok, '--initial-advertise-peer-urls=http://10.0.0.1:2380/x'], {}, /path/],
    ['empty peer URLs', [...ok, '--initial-advertise-peer-urls='], {}, /at least one URL/],
    ['bad endpoints', [...ok, '--endpoints=10.0.0.1:2379'], {}, /--endpoints/],
    ['client port not a number', [...ok, '--client-port=abc'], {}, /--client-port "abc"/],
    ['client port out of range', [...ok, '--client-port=70000'], {}, /--client-port "70000"/],
    ['bad client port variable', ok, { ELASTIC_ETCD_CLIENT_PORT: 'x' }, /ELASTIC_ETCD_CLIENT_PORT "x"/],
    ['bad cluster size variable', ok, { ELASTIC_ETCD_CLUSTER_SIZE: '3x' }, /ELASTIC_ETCD_CLUSTER_SIZE "3x"/],
    ['cluster size below -1', [...ok, '--cluster-size=-2'], {}, /--cluster-size "-2"/],
    ['bad verbosity', [...ok, '-v=high'], {}, /--v "high"/],
    ['bad health timeout', [...ok, '--health-timeout=2'], {}, /--health-timeout "2"/],
    ['bad unhealthy-after', [...ok, '--unhealthy-after=soon'], {}, /--unhealthy-after "soon"/],
    [
      'unhealthy-after with a strategy that never removes',
      [...ok, '--join-strategy=add', '--unhealthy-after=1m'],
      {},
      /--unhealthy-after "1m".*replace and prune/,
    ],
    ['bad lock timeout variable', ok, { ELASTIC_ETCD_LOCK_TIMEOUT: 'soon' }, /ELASTIC_ETCD_LOCK_TIMEOUT/],
    ['bad boolean variable', ok, { ELASTIC_ETCD_INSECURE_SKIP_TLS_VERIFY: 'maybe' }, /ELASTIC_ETCD_INSECURE_SKIP_TLS_VERIFY/],
    ['cert without key', [...ok, '--cert=/c.pem'], {}, /--cert and --key/],
    ['password without user', [...ok, '--password=p'], {}, /--password needs --user/],
    ['user without password', [...ok, '--user=root'], {}, /has no password/],
    ['password twice', [...ok, '--user=root:a', '--password=b'], {}, /password is given twice/],
  ];
  for (const [what, argv, env, pattern] of cases) {
    test(what, async () => {
      const run = await runMain(argv, env);
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^elastic-etcd: [^\n]+; [^\n]+\n$/);
      assert.match(run.stderr, pattern);
    });
  }
  test('a password never appears in an error message', async () => {
    const run = await runMain([...ok, '--user=:topsecret']);
    assert.equal(run.code, 2);
    assert.doesNotMatch(run.stderr, /topsecret/);
  });
});

describe('durations', () => {
  test('Go-style durations', () => {
    assert.equal(parseDurationMs('500ms'), 500);
    assert.equal(parseDurationMs('2s'), 2000);
    assert.equal(parseDurationMs('1m30s'), 90_000);
    assert.equal(parseDurationMs('1.5s'), 1500);
    for (const bad of ['', '2', 's', '-1s', '0s', '25h', '2 s']) assert.equal(parseDurationMs(bad), undefined, bad);
    assert.equal(formatDuration(60_000), '1m');
    assert.equal(formatDuration(1500), '1500ms');
  });
});
