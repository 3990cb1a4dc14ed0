// The CLI end to end, with the real discovery service and real etcd: a bootstrap of three through discovery
// fed by the README's own shell examples (-o flags and -o env) and by a drop-in; a restart with data; a dry
// run that changes nothing; a join refused because the quorum would be at risk; and a wiped member that
// rejoins under `replace` and is promoted by the drop-in's ExecStartPost command.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readRegistry } from '../../src/adapters/discovery/index.js';
import { memberIdToHex } from '../../src/core/ids.js';
import {
  clientURLOf,
  createCluster,
  etcdBinaries,
  etcdctl,
  peerURLOf,
  pollUntil,
  readStatus,
  type DiscoveryService,
  type EtcdCluster,
  type EtcdMember,
} from '../harness/index.js';
import { LoggedProcess } from '../harness/processes.js';
import { parseDropin, splitSystemdCommand } from '../harness/systemd.js';
import { CLI_COMMAND, cleanEnv, expectExit, members, parseEnvOutput, runCli, waitForVoters } from './cli-support.js';

/** The CLI's -o dropin also orders the unit after the one it requires ([Unit]). */
const CLI_DROPIN = { sections: ['Unit', 'Service'] };

const ETCD = etcdBinaries().etcd;

/** The README's -o flags example, verbatim apart from the etcd binary name and this test's addresses. */
const README_FLAGS_EXAMPLE = `
set -e
ELASTIC_PARAMS=$(elastic-etcd -v=6 -logtostderr -o flags -discovery=$DISCOVERY_URL -name=master2 -client-port=2379 \\
  -initial-advertise-peer-urls=http://$IP:2380 \\
  )
exec etcd $ELASTIC_PARAMS \\
  -listen-peer-urls=http://$IP:2380 \\
  -listen-client-urls=http://$IP:2379 \\
  -advertise-client-urls=http://$IP:2379
`;

/** Our README's -o env example: `set -a` exports what eval sets, so etcd sees the ETCD_* variables. */
const README_ENV_EXAMPLE = `
set -e
set -a
eval "$(elastic-etcd -v=6 -logtostderr -discovery=$DISCOVERY_URL -o env \\
  -name=master1 -client-port=2379 \\
  -initial-advertise-peer-urls=http://$IP:2380 \\
  )"
set +a
exec etcd -listen-peer-urls=http://$IP:2380 \\
  -listen-client-urls=http://$IP:2379 \\
  -advertise-client-urls=http://$IP:2379
`;

describe('elastic-etcd CLI: bootstrap through discovery, restart, dry run, refusal, replace', () => {
  let sandbox: EtcdCluster;
  let discovery: DiscoveryService;
  let url: string;
  const shells: LoggedProcess[] = [];
  let ip3: string;
  let dataDir3: string;
  let member3: EtcdMember;
  let endpoints: string[];

  /** Runs a README example in bash with `elastic-etcd` and `etcd` on the PATH's place; exec makes it etcd. */
  async function runExample(script: string, ip: string, name: string): Promise<LoggedProcess> {
    const workDir = join(sandbox.dir, `readme-${name}`);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(workDir, { recursive: true });
    const prelude = `elastic-etcd() { ${CLI_COMMAND.map((w) => `'${w}'`).join(' ')} "$@"; }\netcd() { '${ETCD}' "$@"; }\n`;
    // `exec etcd` must reach the binary, not the function: put the binary first on a private PATH.
    const shell = new LoggedProcess('/bin/bash', ['-c', prelude + script.replace('exec etcd', `exec ${ETCD}`)], {
      env: cleanEnv({ DISCOVERY_URL: url, IP: ip }),
      cwd: workDir,
      logPath: join(workDir, 'shell.log'),
    });
    shells.push(shell);
    return shell;
  }

  before(async () => {
    sandbox = createCluster();
    discovery = await sandbox.startDiscoveryService();
    url = await discovery.newDiscoveryURL(3);
  });
  after(async () => {
    await Promise.all(shells.map((s) => s.kill()));
    await sandbox.close();
  });

  test('three nodes bootstrap through discovery from the flags, env and dropin outputs', async () => {
    const [ip1, ip2] = [await sandbox.allocateIp(), await sandbox.allocateIp()];
    ip3 = await sandbox.allocateIp();
    dataDir3 = join(sandbox.dir, 'n3.data');
    endpoints = [clientURLOf(ip1), clientURLOf(ip2), clientURLOf(ip3)];

    const shell2 = await runExample(README_FLAGS_EXAMPLE, ip2, 'master2');
    const shell1 = await runExample(README_ENV_EXAMPLE, ip1, 'master1');
    // The third node's CLI runs once both others registered: it must still choose bootstrap (2 of 3).
    await pollUntil(async () => ((await readRegistry(url)).entries.length >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      what: `two registrations at ${url}${shell1.logTail()}${shell2.logTail()}`,
    });
    // The others accept connections but do not answer while they wait for discovery: a short command
    // timeout keeps this run quick (each unanswered request costs one timeout).
    const dropin = expectExit(
      await runCli([
        '-o',
        'dropin',
        '--command-timeout=1s',
        `-discovery=${url}`,
        '-name=n3',
        `-initial-advertise-peer-urls=${peerURLOf(ip3)}`,
        `-data-dir=${dataDir3}`,
      ]),
      0,
      'n3 bootstrap',
    );
    const parsed = parseDropin(dropin.stdout, CLI_DROPIN);
    assert.deepEqual(parsed.requires, ['elastic-etcd.service']);
    assert.equal(parsed.settings.ETCD_INITIAL_CLUSTER_STATE, 'new');
    assert.equal(parsed.settings.ETCD_DISCOVERY, url);
    assert.deepEqual(parsed.execStartPost, [], 'a bootstrap member is a voter: nothing to promote');
    member3 = await sandbox.startMember({ ip: ip3, settings: parsed.settings });

    const list = await waitForVoters(endpoints, ['master1', 'master2', 'n3']);
    const registry = await readRegistry(url);
    assert.deepEqual(registry.entries.map((e) => e.id).sort(), list.map((m) => m.id).sort());
  });

  test('a member restarted with its data resumes, keeping its ID', async () => {
    const before = await members(endpoints);
    await member3.kill();
    const run = expectExit(
      await runCli([
        '-o',
        'env',
        `--discovery=${url}`,
        '--name=n3',
        `--initial-advertise-peer-urls=${peerURLOf(ip3)}`,
        `--data-dir=${dataDir3}`,
      ]),
      0,
      'n3 restart',
    );
    const settings = parseEnvOutput(run.stdout);
    assert.equal(settings.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.equal(settings.ETCD_DISCOVERY, undefined);
    member3 = await sandbox.startMember({ ip: ip3, settings });
    const list = await waitForVoters(endpoints, ['master1', 'master2', 'n3']);
    assert.deepEqual(list.map((m) => m.id).sort(), before.map((m) => m.id).sort());
  });

  test('--dry-run prints the plan and changes nothing', async () => {
    await member3.kill();
    member3.wipe();
    const before = await members(endpoints);
    const run = expectExit(
      await runCli([
        '--dry-run',
        '-o',
        'json',
        `--discovery=${url}`,
        '--name=n3',
        `--initial-advertise-peer-urls=${peerURLOf(ip3)}`,
        `--data-dir=${dataDir3}`,
      ]),
      0,
      'dry run',
    );
    const plan = JSON.parse(run.stdout) as { kind: string; removals: { member: { name: string } }[]; admission: { kind: string } };
    assert.equal(plan.kind, 'join');
    assert.deepEqual(
      plan.removals.map((r) => r.member.name),
      ['n3'],
    );
    assert.equal(plan.admission.kind, 'add');
    assert.match(run.stderr, /dry run: would remove member .*n3/);
    // Without -o json a dry run prints the configuration a real run would print.
    const envRun = expectExit(
      await runCli([
        '--dry-run',
        `--discovery=${url}`,
        '--name=n3',
        `--initial-advertise-peer-urls=${peerURLOf(ip3)}`,
        `--data-dir=${dataDir3}`,
      ]),
      0,
      'dry run, env',
    );
    assert.equal(parseEnvOutput(envRun.stdout).ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.deepEqual(await members(endpoints), before);
    assert.equal((await readRegistry(url)).entries.length, 3);
  });

  test('a join that would put the quorum at risk is refused, exit 1, stdout empty, members unchanged', async () => {
    const before = await members(endpoints);
    const ip4 = await sandbox.allocateIp();
    const run = await runCli([
      '--join-strategy=add',
      '--cluster-size=5',
      '--join-as=voter',
      `--discovery=${url}`,
      '--name=n4',
      `--initial-advertise-peer-urls=${peerURLOf(ip4)}`,
      `--data-dir=${join(sandbox.dir, 'n4.data')}`,
    ]);
    expectExit(run, 1, 'refused join');
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^elastic-etcd: join refused \(quorum-at-risk\): .*; .+$/m);
    assert.deepEqual(await members(endpoints), before);
  });

  test('a wiped member rejoins under replace as a learner and the drop-in promotes it', async () => {
    const old = (await members(endpoints)).find((m) => m.name === 'n3');
    assert.ok(old !== undefined);
    const run = expectExit(
      await runCli([
        '-o',
        'dropin',
        `--discovery=${url}`,
        '--name=n3',
        `--initial-advertise-peer-urls=${peerURLOf(ip3)}`,
        `--data-dir=${dataDir3}`,
      ]),
      0,
      'replace',
    );
    const parsed = parseDropin(run.stdout, CLI_DROPIN);
    assert.equal(parsed.settings.ETCD_INITIAL_CLUSTER_STATE, 'existing');
    assert.equal(parsed.execStartPost.length, 1);
    const during = await members(endpoints);
    assert.equal(during.filter((m) => m.id === old.id).length, 0, 'the old incarnation was removed');
    assert.equal(during.filter((m) => m.isLearner).length, 1, 'the new member was added as a learner');

    member3 = await sandbox.startMember({ ip: ip3, settings: parsed.settings });
    // What systemd would run after etcd started; the leading '-' only tells systemd to ignore a failure.
    const [program, ...args] = splitSystemdCommand((parsed.execStartPost[0] ?? '').replace(/^-/, ''));
    assert.ok(program !== undefined);
    expectExit(await runCli(args, { command: [program] }), 0, 'promote');
    const list = await waitForVoters(endpoints, ['master1', 'master2', 'n3']);
    const fresh = list.find((m) => m.name === 'n3');
    assert.ok(fresh !== undefined && fresh.id !== old.id);
    assert.equal((await readStatus(member3.clientURL))?.isLearner, false);

    // Registry: the new ID registered, the old one deregistered, still 3 entries (the formed-cluster count).
    const registry = await readRegistry(url);
    const ids = registry.entries.map((e) => memberIdToHex(e.id));
    assert.ok(ids.includes(memberIdToHex(fresh.id)));
    assert.ok(!ids.includes(memberIdToHex(old.id)));
    assert.equal(registry.entries.length, 3);
    const health = await etcdctl(endpoints, ['endpoint', 'health', '--cluster']);
    assert.equal(health.exitCode, 0, health.stderr);
  });
});
