// The join and promote commands with fake adapters and services: what goes to stdout and stderr, the exit
// codes, the drop-in's promote command, and the discovery bookkeeping after a join.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DiscoveryError, type Registry } from '../../src/adapters/discovery/index.js';
import type { EtcdSettings, Member, Plan } from '../../src/core/types.js';
import { main, type CliDependencies } from '../../src/cli/run.js';
import type { JoinInput, JoinResult } from '../../src/services/join.js';
import { LockTimeoutError } from '../../src/services/lock.js';
import { PromotionError } from '../../src/services/promote.js';
import { member } from './fixtures.js';

const URL = 'http://disc.example:8087/token';
const settings: EtcdSettings = {
  name: 'n4',
  dataDir: '/var/lib/etcd',
  initialAdvertisePeerURLs: ['http://10.0.0.4:2380'],
  initialClusterState: 'existing',
  initialCluster: [
    { name: 'n4', peerURL: 'http://10.0.0.4:2380' },
    { name: 'n1', peerURL: 'http://10.0.0.1:2380' },
  ],
};
const joinPlan = (promote: boolean, removals: Member[] = []): Plan => ({
  kind: 'join',
  removals: removals.map((m) => ({ member: m, reason: 'unreachable' })),
  admission: { kind: 'add', peerURLs: ['http://10.0.0.4:2380'], asLearner: promote },
  promote,
  checks: [],
  settings,
  reason: 'test',
});
const registryOf = (...members: Member[]): Registry => ({
  entries: members.map((m, i) => ({ id: m.id, name: m.name, peerURLs: m.peerURLs, createdIndex: i + 1 })),
  problems: [],
});

interface Calls {
  join: JoinInput[];
  register: bigint[];
  deregister: bigint[];
}

function fakes(result: JoinResult | Error, registry: Registry, size = 3): { deps: CliDependencies; calls: Calls } {
  const calls: Calls = { join: [], register: [], deregister: [] };
  const deps: CliDependencies = {
    runJoin: (input) => {
      calls.join.push(input);
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
    promoteWhenReady: () => Promise.reject(new Error('not used')),
    readRegistry: () => Promise.resolve(registry),
    readSize: () => Promise.resolve(size),
    register: (_url, id) => {
      calls.register.push(id);
      return Promise.resolve('created');
    },
    deregister: (_url, id) => {
      calls.deregister.push(id);
      return Promise.resolve('deleted');
    },
    isDataDirFresh: () => Promise.resolve({ fresh: true, exists: false, unexpectedEntries: [] }),
    readTlsFiles: () => Promise.resolve({}),
  };
  return { deps, calls };
}

async function run(argv: string[], deps: CliDependencies): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(
    argv,
    {},
    { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), selfCommand: ['/usr/bin/node', '/opt/elastic etcd/main.js'] },
    deps,
  );
  return { code, stdout, stderr };
}

const node4 = ['--name=n4', '--initial-advertise-peer-urls=http://10.0.0.4:2380', `--discovery=${URL}`, '--data-dir=/var/lib/etcd'];

describe('join command', () => {
  test('passes the registry-derived endpoints, sizes and options to the join service', async () => {
    const { deps, calls } = fakes({ plan: joinPlan(false), executed: false, removed: [] }, registryOf(member(1), member(2)));
    const out = await run([...node4, '--endpoints=http://10.9.9.9:2379', '--cluster-size=5', '--dry-run', '--join-strategy=add'], deps);
    assert.equal(out.code, 0, out.stderr);
    const input = calls.join[0];
    assert.ok(input !== undefined);
    assert.deepEqual(input.endpoints, ['http://10.9.9.9:2379', 'http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
    assert.equal(input.targetSize, 5);
    assert.deepEqual(input.bootstrap, { kind: 'discovery', url: URL, size: 3, registered: 2 });
    assert.equal(input.dryRun, true);
    assert.equal(input.strategy, 'add');
    assert.deepEqual(calls.register, [], 'a dry run writes nothing to discovery');
  });

  test('env output on stdout, only the output', async () => {
    const { deps } = fakes({ plan: joinPlan(false), executed: false, removed: [] }, registryOf());
    const out = await run(node4, deps);
    assert.equal(out.code, 0);
    assert.equal(
      out.stdout,
      'ETCD_NAME="n4"\nETCD_DATA_DIR="/var/lib/etcd"\nETCD_INITIAL_ADVERTISE_PEER_URLS="http://10.0.0.4:2380"\nETCD_INITIAL_CLUSTER="n4=http://10.0.0.4:2380,n1=http://10.0.0.1:2380"\nETCD_INITIAL_CLUSTER_STATE="existing"\n',
    );
  });

  test('a learner join writes a drop-in that promotes it after etcd started, without the password', async () => {
    const { deps } = fakes({ plan: joinPlan(true), executed: false, removed: [] }, registryOf());
    const out = await run(['-o', 'dropin', ...node4, '--user=root:secret', '-v=3'], deps);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Requires=elastic-etcd\.service$/m);
    const post = /^ExecStartPost=(.*)$/m.exec(out.stdout)?.[1];
    assert.equal(
      post,
      `-/usr/bin/node "/opt/elastic etcd/main.js" promote --name=n4 --initial-advertise-peer-urls=http://10.0.0.4:2380 --discovery=${URL} --user=root -v=3`,
    );
    assert.doesNotMatch(out.stdout, /secret/);
  });

  test('--promote-command overrides the promote command', async () => {
    const { deps } = fakes({ plan: joinPlan(true), executed: false, removed: [] }, registryOf());
    const out = await run(
      ['-o', 'dropin', ...node4, '--promote-command=/usr/local/bin/elastic-etcd promote --name=n4 --endpoints=http://10.0.0.1:2379'],
      deps,
    );
    assert.match(out.stdout, /^ExecStartPost=-\/usr\/local\/bin\/elastic-etcd promote --name=n4 --endpoints=http:\/\/10\.0\.0\.1:2379$/m);
  });

  test('registers the admitted member; deregisters a removed one only while the registry keeps its size', async () => {
    const [m1, m2, m3, m5] = [member(1), member(2), member(3), member(5)];
    const admitted = member(4, { name: '', isLearner: true });
    // Registry holds 3 of size 3: after registering n4 there are 4, so one removed entry may go, not two.
    const { deps, calls } = fakes({ plan: joinPlan(true, [m2, m3]), executed: true, removed: [m2, m3], admitted }, registryOf(m1, m2, m3));
    const out = await run(node4, deps);
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(calls.register, [admitted.id]);
    assert.deepEqual(calls.deregister, [m2.id]);
    assert.match(out.stderr, /kept the entry of removed member/);
    // A removed member that never was in the registry is not deregistered.
    const other = fakes({ plan: joinPlan(true, [m5]), executed: true, removed: [m5], admitted }, registryOf(m1, m2, m3));
    await run(node4, other.deps);
    assert.deepEqual(other.calls.deregister, []);
  });

  test('a registration failure is a warning: the member is in, etcd must start, the next run registers', async () => {
    const { deps } = fakes({ plan: joinPlan(false), executed: true, removed: [], admitted: member(4) }, registryOf());
    const failing: CliDependencies = { ...deps, register: () => Promise.reject(new DiscoveryError('unavailable', 'PUT failed')) };
    const out = await run(node4, failing);
    assert.equal(out.code, 0);
    assert.match(out.stderr, /^W .*could not register/m);
    assert.notEqual(out.stdout, '');
  });

  test('a refusal: exit 1, the reason and what to do on stderr, nothing on stdout (json: the refusal document)', async () => {
    const refusal: Plan = { kind: 'refuse', code: 'cluster-full', message: 'the cluster is full (3 of 3 members)' };
    const { deps } = fakes({ plan: refusal, executed: false, removed: [] }, registryOf());
    const out = await run(node4, deps);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, '');
    assert.match(out.stderr, /^elastic-etcd: join refused \(cluster-full\): the cluster is full \(3 of 3 members\); raise --cluster-size/m);
    const json = await run(['-o', 'json', ...node4], deps);
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { code: string }).code, 'cluster-full');
  });

  test('failures of the services and adapters: exit 1 with one line that says what to do', async () => {
    const cases: [Error, RegExp][] = [
      [new LockTimeoutError('n5', 60_000), /cluster lock .* held by n5.*--lock-timeout/],
      [
        new DiscoveryError('not-found', 'discovery token not found'),
        /discovery: discovery token not found; check the token in --discovery/,
      ],
      [new Error('boom'), /unexpected error: boom; run again with -v=6/],
    ];
    for (const [error, pattern] of cases) {
      const out = await run(node4, fakes(error, registryOf()).deps);
      assert.equal(out.code, 1);
      assert.equal(out.stdout, '');
      const last = out.stderr.trimEnd().split('\n').at(-1) ?? '';
      assert.match(last, pattern);
    }
  });
});

describe('promote command', () => {
  test('exit 0 when promoted, 1 when it cannot be', async () => {
    const { deps } = fakes({ plan: joinPlan(false), executed: false, removed: [] }, registryOf(member(1)));
    const endpointsSeen: string[][] = [];
    const promoted: CliDependencies = {
      ...deps,
      promoteWhenReady: (input) => {
        endpointsSeen.push([...input.endpoints]);
        return Promise.resolve({ outcome: 'promoted', member: member(4) });
      },
    };
    const ok = await run(['promote', '--name=n4', '--initial-advertise-peer-urls=http://10.0.0.4:2380', `--discovery=${URL}`], promoted);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(endpointsSeen, [['http://10.0.0.1:2379', 'http://10.0.0.4:2379']]);
    const failing: CliDependencies = {
      ...deps,
      promoteWhenReady: () => Promise.reject(new PromotionError('gave up promoting after 300 s')),
    };
    const bad = await run(['promote', '--name=n4', '--initial-advertise-peer-urls=http://10.0.0.4:2380', `--discovery=${URL}`], failing);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /gave up promoting.*; check this member's etcd log/);
  });
});
