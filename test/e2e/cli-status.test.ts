// `elastic-etcd status` end to end, the real CLI against real etcd: all healthy, an active alarm, a learner, a
// SIGSTOPped member (bounded by the health timeout), a killed one, usage errors; and, with the simulated cloud, the
// Auto Scaling group side by side with the members, a member whose instance is gone and an instance without a
// member; and a mutual-TLS cluster with etcdctl's flags (--cacert, --cert, --key), where each certificate problem is
// one line on stderr (exit 2 for a wrong file, exit 1 for a handshake the member or we refused). The -o json output
// is validated against its published schema every time.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { statusJsonSchema, type StatusJson } from '../../src/cli/status-command.js';
import {
  createCluster,
  etcdctl,
  etcdctlMemberList,
  peerURLOf,
  pollUntil,
  startCluster,
  TestPki,
  tryJson,
  type EtcdCluster,
  type EtcdMember,
  type TlsFiles,
} from '../harness/index.js';
import { selectedEtcdVersion } from '../harness/versions.js';
import { startSimulatedCloud, type SimulatedCloud } from '../sim/index.js';
import { expectExit, runCli, type CliRun } from './cli-support.js';

/** The health timeout the SIGSTOP test configures, and so the bound it checks. */
const HEALTH_TIMEOUT_MS = 8_000;

function parseJson(run: CliRun): StatusJson {
  return statusJsonSchema.parse(JSON.parse(run.stdout));
}

function row(status: StatusJson, name: string): StatusJson['members'][number] {
  const found = status.members.find((m) => m.name === name);
  assert.ok(found !== undefined, `member ${name} in ${JSON.stringify(status.members.map((m) => m.name))}`);
  return found;
}

/** The cluster is back to three healthy voters with a leader (after a test changed it). */
async function waitHealthy(endpoints: readonly string[]): Promise<void> {
  await pollUntil(async () => ((await runCli(['status', `--endpoints=${endpoints.join(',')}`])).code === 0 ? true : undefined), {
    timeoutMs: 30_000,
    intervalMs: 500,
    what: 'status healthy again',
  });
}

describe('elastic-etcd status against a real cluster', () => {
  let cluster: EtcdCluster;
  let endpoints: string;

  before(async () => {
    cluster = await startCluster({ size: 3 });
    endpoints = `--endpoints=${cluster.clientURLs.join(',')}`;
  });
  after(async () => {
    await cluster.close();
  });

  test('a usage error: exit 2, one line on stderr, nothing on stdout (every case: test/unit/status-command.test.ts)', async () => {
    const run = await runCli(['status', endpoints, '-o', 'yaml']);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^elastic-etcd: -o "yaml" is not an output format; [^\n]*\n$/);
  });

  test('all healthy: the table, exit 0', async () => {
    const run = expectExit(await runCli(['status', endpoints]), 0, 'status');
    assert.equal(run.stderr, '');
    const lines = run.stdout.split('\n');
    assert.match(lines[0] ?? '', /^cluster [0-9a-f]+: HEALTHY$/);
    assert.match(lines[1] ?? '', /^voters 3\/3 healthy, quorum 2, margin 1 \(survives 1 more voter failure\)$/);
    for (const name of ['m1', 'm2', 'm3']) assert.match(run.stdout, new RegExp(`^${name} +[0-9a-f]{1,16} +voter +yes +yes `, 'm'));
    assert.equal((run.stdout.match(/^m\d .* yes +yes +yes /gm) ?? []).length, 1, 'exactly one leader');
    assert.doesNotMatch(run.stdout, /problems:/);
  });

  test('-o json: valid against its schema, the same cluster and leader etcdctl sees', async () => {
    const status = parseJson(expectExit(await runCli(['status', endpoints, '-o', 'json']), 0, 'status -o json'));
    const list = await etcdctlMemberList(cluster.clientURLs);
    assert.equal(status.clusterId, list.clusterId.toString(16));
    assert.equal(status.verdict, 'healthy');
    assert.deepEqual(status.problems, []);
    assert.deepEqual(status.quorum, { voters: 3, healthyVoters: 3, needed: 2, margin: 1 });
    assert.equal(status.members.length, 3);
    const leaders = status.members.filter((m) => m.leader);
    assert.equal(leaders.length, 1);
    assert.equal(status.leader, leaders[0]?.id);
    for (const m of status.members) {
      assert.ok(m.healthy && m.started && m.role === 'voter');
      assert.ok((m.dbSize ?? 0) > 0 && m.dbSizeInUse !== null && m.dbSizeInUse <= (m.dbSize ?? 0));
      assert.match(m.version ?? '', /^3\.[45]\./);
      assert.ok(m.lag !== null && m.raftIndex !== null);
    }
    assert.equal(status.group, null);
  });

  test('an active NOSPACE alarm: degraded, the alarm on its member', async (t) => {
    const m2 = cluster.members[1]!;
    const id = (await etcdctlMemberList(cluster.clientURLs)).members.find((m) => m.name === 'm2')?.id;
    assert.ok(id !== undefined);
    // etcd raises NOSPACE itself when the quota is exceeded; the Alarm API activates the same alarm directly.
    const activated = await tryJson(`${m2.clientURL}/v3/maintenance/alarm`, {
      method: 'POST',
      body: { action: 'ACTIVATE', memberID: id.toString(), alarm: 'NOSPACE' },
    });
    assert.ok(activated !== undefined, 'alarm activated');
    t.after(async () => {
      await etcdctl(cluster.clientURLs, ['alarm', 'disarm']);
      await waitHealthy(cluster.clientURLs);
    });
    const run = expectExit(await runCli(['status', endpoints, '-o', 'json']), 1, 'status with an alarm');
    const status = parseJson(run);
    assert.equal(status.verdict, 'degraded');
    assert.deepEqual(status.alarms, [{ memberId: id.toString(16), alarm: 'NOSPACE' }]);
    assert.deepEqual(row(status, 'm2').alarms, ['NOSPACE']);
    assert.deepEqual(row(status, 'm1').alarms, []);
    assert.deepEqual(
      status.problems.map((p) => p.code),
      ['alarm'],
    );
    const table = expectExit(await runCli(['status', endpoints]), 1, 'status table with an alarm');
    assert.match(table.stdout, /^m2 .* NOSPACE$/m);
  });

  test('a learner: listed as a learner, healthy, outside the quorum', async (t) => {
    const ip = await cluster.allocateIp();
    const added = await etcdctl(cluster.clientURLs, ['member', 'add', 'l4', '--learner', `--peer-urls=${peerURLOf(ip)}`]);
    assert.equal(added.exitCode, 0, added.stderr);
    const initialCluster = [...cluster.members.map((m) => `${m.name}=${m.peerURL}`), `l4=${peerURLOf(ip)}`].join(',');
    t.after(async () => {
      const id = (await etcdctlMemberList(cluster.clientURLs)).members.find((m) => m.peerURLs.includes(peerURLOf(ip)))?.id;
      if (id !== undefined) await etcdctl(cluster.clientURLs, ['member', 'remove', id.toString(16)]);
      if (cluster.all.some((m) => m.name === 'l4')) await cluster.member('l4').kill();
    });
    // Before it starts: an added member that has not started degrades the cluster.
    const pending = parseJson(expectExit(await runCli(['status', endpoints, '-o', 'json']), 1, 'status with an unstarted learner'));
    assert.deepEqual(
      pending.problems.map((p) => p.code),
      ['member-unstarted'],
    );
    assert.deepEqual(pending.quorum, { voters: 3, healthyVoters: 3, needed: 2, margin: 1 });
    await cluster.startMember({
      ip,
      settings: { ETCD_NAME: 'l4', ETCD_INITIAL_CLUSTER: initialCluster, ETCD_INITIAL_CLUSTER_STATE: 'existing' },
    });
    const status = await pollUntil(
      async () => {
        const run = await runCli(['status', endpoints, '-o', 'json']);
        return run.code === 0 ? parseJson(run) : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'status healthy with the learner' },
    );
    const l4 = row(status, 'l4');
    assert.equal(l4.role, 'learner');
    assert.ok(l4.healthy && l4.started && !l4.leader);
    assert.deepEqual(status.quorum, { voters: 3, healthyVoters: 3, needed: 2, margin: 1 });
  });

  test('a SIGSTOPped member: degraded, and the command returns within about one health timeout', async (t) => {
    const timeout = `--health-timeout=${HEALTH_TIMEOUT_MS}ms`;
    // The same command on the healthy cluster, just before (the slower of two runs): what starting the CLI costs on
    // this machine now, under its current load.
    let baseline = 0;
    for (let i = 0; i < 2; i++) {
      baseline = Math.max(baseline, expectExit(await runCli(['status', endpoints, timeout, '-o', 'json']), 0, 'status before the stop').ms);
    }
    const m3 = cluster.members[2]!;
    m3.stop();
    t.after(async () => {
      m3.resume();
      await waitHealthy(cluster.clientURLs);
    });
    const run = expectExit(await runCli(['status', endpoints, timeout, '-o', 'json']), 1, 'status with a hung member');
    const status = parseJson(run);
    assert.equal(row(status, 'm3').healthy, false);
    assert.match(row(status, 'm3').problem ?? '', new RegExp(`did not answer .* within ${HEALTH_TIMEOUT_MS} ms`));
    assert.deepEqual(status.quorum, { voters: 3, healthyVoters: 2, needed: 2, margin: 0 });
    assert.ok(row(status, 'm1').healthy && row(status, 'm2').healthy);
    // Asked one after another, the member list, the status and a second health check would cost three timeouts
    // (two at the least); in parallel and not asked twice it costs one. The bound allows half a timeout of noise.
    const bound = baseline + 1.5 * HEALTH_TIMEOUT_MS;
    assert.ok(run.ms < bound, `status took ${Math.round(run.ms)} ms with a hung member; bound ${Math.round(bound)} ms`);
  });

  test('a killed member: degraded, margin 0, the others healthy', async (t) => {
    const m1 = cluster.members[0]!;
    await m1.kill();
    t.after(async () => {
      await m1.restart();
      await waitHealthy(cluster.clientURLs);
    });
    const status = parseJson(expectExit(await runCli(['status', endpoints, '-o', 'json']), 1, 'status with a killed member'));
    assert.equal(status.verdict, 'degraded');
    assert.equal(row(status, 'm1').healthy, false);
    assert.match(row(status, 'm1').problem ?? '', /unreachable|ECONNREFUSED/);
    assert.equal(row(status, 'm1').raftIndex, null);
    assert.deepEqual(status.quorum, { voters: 3, healthyVoters: 2, needed: 2, margin: 0 });
    assert.ok(status.problems.some((p) => p.code === 'member-unhealthy' && p.message.includes('m1')));
    // Nothing answers at all: one line on stderr, exit 1, nothing on stdout.
    const none = await runCli(['status', `--endpoints=${m1.clientURL}`]);
    assert.equal(none.code, 1);
    assert.equal(none.stdout, '');
    assert.match(none.stderr, /^elastic-etcd: status: no etcd endpoint answered .*\n$/);
  });

  test('https:// against a plain-HTTP member: one line whose hint names the scheme', async () => {
    const run = await runCli(['status', `--endpoints=${cluster.clientURLs.map((u) => u.replace('http://', 'https://')).join(',')}`]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    // etcd resets a TLS hello on a plain listener (and plain HTTP on a TLS one): the hint says which scheme to use.
    assert.match(
      run.stderr,
      /^elastic-etcd: status: no etcd endpoint answered [^\n]*; a plain-HTTP member resets a TLS handshake: use http:\/\/ endpoints[^\n]*\n$/,
    );
  });
});

describe('elastic-etcd status against a mutual-TLS cluster', () => {
  let cluster: EtcdCluster;
  let client: TlsFiles;
  let flags: string[];
  let endpoints: string;

  before(async () => {
    cluster = await startCluster({ size: 3, tls: true });
    client = cluster.tlsClient!;
    flags = [`--cacert=${client.caFile}`, `--cert=${client.certFile}`, `--key=${client.keyFile}`];
    endpoints = `--endpoints=${cluster.clientURLs.join(',')}`;
  });
  after(async () => {
    await cluster.close();
  });

  test("healthy with etcdctl's TLS flags: the table and -o json, exit 0", async () => {
    assert.ok(cluster.clientURLs.every((u) => u.startsWith('https://')));
    const table = expectExit(await runCli(['status', endpoints, ...flags]), 0, 'status over TLS');
    assert.equal(table.stderr, '');
    assert.match(table.stdout, /^cluster [0-9a-f]+: HEALTHY$/m);
    for (const name of ['m1', 'm2', 'm3']) assert.match(table.stdout, new RegExp(`^${name} +[0-9a-f]{1,16} +voter +yes +yes `, 'm'));
    const json = parseJson(expectExit(await runCli(['status', endpoints, ...flags, '-o', 'json']), 0, 'status -o json over TLS'));
    assert.equal(json.verdict, 'healthy');
    assert.deepEqual(json.quorum, { voters: 3, healthyVoters: 3, needed: 2, margin: 1 });
    // The same cluster etcdctl sees with the same files.
    assert.equal(json.clusterId, (await etcdctlMemberList(cluster.clientURLs, { tls: client })).clusterId.toString(16));
    // The same flags from ELASTIC_ETCD_* variables.
    const env = { ELASTIC_ETCD_CACERT: client.caFile, ELASTIC_ETCD_CERT: client.certFile, ELASTIC_ETCD_KEY: client.keyFile };
    expectExit(await runCli(['status', endpoints], { env }), 0, 'status over TLS, files from the environment');
  });

  test('each certificate problem: one line on stderr naming it, nothing on stdout, exit 2 for a wrong file, 1 for a refused handshake', async () => {
    const other = await TestPki.create(join(cluster.dir, 'other-ca'), 'other');
    const stranger = await other.issueClient('stranger');
    const expired = await cluster.pki!.issueClient('expired', { now: new Date(Date.now() - 20 * 86_400_000), validityDays: 1 });
    const etcd34 = selectedEtcdVersion() === '3.4';
    const http = `--endpoints=${cluster.clientURLs.map((u) => u.replace('https://', 'http://')).join(',')}`;
    const cases: [string, string[], number, RegExp][] = [
      [
        'no client certificate',
        [endpoints, `--cacert=${client.caFile}`],
        1,
        /TLS handshake with https:\/\/\S+ failed: it (requires a client certificate|refused our client certificate)[^;]*; pass --cert and --key/,
      ],
      [
        'no --cacert',
        [endpoints, `--cert=${client.certFile}`, `--key=${client.keyFile}`],
        1,
        /its certificate is not signed by a trusted CA.*; pass the cluster's CA certificate with --cacert/,
      ],
      [
        'a client certificate of another CA',
        [endpoints, `--cacert=${client.caFile}`, `--cert=${stranger.certFile}`, `--key=${stranger.keyFile}`],
        1,
        // etcd 3.5 alerts "unknown CA"; etcd 3.4's older Go TLS stack answers a generic "bad certificate".
        etcd34
          ? /it refused our client certificate \(--cert\) \(ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE\)/
          : /it does not trust the CA of our client certificate/,
      ],
      [
        'an expired client certificate',
        [endpoints, `--cacert=${client.caFile}`, `--cert=${expired.certFile}`, `--key=${expired.keyFile}`],
        1,
        etcd34
          ? /it refused our client certificate \(--cert\) \(ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE\)/
          : /it refused our client certificate \(--cert\): expired/,
      ],
      ['http:// endpoints with TLS flags', [http, ...flags], 1, /endpoints are http:\/\/: a TLS member needs https:\/\/ URLs/],
      [
        'http:// endpoints, no TLS flags',
        [http],
        1,
        /a TLS member resets plain HTTP: use https:\/\/ endpoints with --cacert, --cert and --key/,
      ],
      [
        'a key of another certificate (every wrong file: test/unit/status-command.test.ts)',
        [endpoints, `--cacert=${client.caFile}`, `--cert=${client.certFile}`, `--key=${stranger.keyFile}`],
        2,
        /--key "[^"]+" does not belong to the certificate --cert/,
      ],
    ];
    for (const [what, args, code, message] of cases) {
      const run = await runCli(['status', ...args]);
      assert.equal(run.code, code, `${what}: ${run.stderr}`);
      assert.equal(run.stdout, '', what);
      assert.match(run.stderr, /^elastic-etcd: [^\n]+\n$/, `${what}: one line`);
      assert.match(run.stderr, message, what);
    }
  });

  test('a member whose own certificate expired: degraded, its row names the certificate, the others healthy', async (t) => {
    const m3 = cluster.members[2]!;
    // etcd reads its certificate files for each new connection: an expired one is served at once, no restart.
    await cluster.renewMemberCertificate(m3, { now: new Date(Date.now() - 20 * 86_400_000), validityDays: 1 });
    t.after(async () => {
      await cluster.renewMemberCertificate(m3);
      await pollUntil(async () => ((await runCli(['status', endpoints, ...flags])).code === 0 ? true : undefined), {
        timeoutMs: 30_000,
        intervalMs: 500,
        what: 'status healthy again over TLS',
      });
    });
    const status = parseJson(
      expectExit(await runCli(['status', endpoints, ...flags, '-o', 'json']), 1, 'status with an expired member certificate'),
    );
    assert.equal(row(status, 'm3').healthy, false);
    assert.match(
      row(status, 'm3').problem ?? '',
      /^the TLS handshake with https:\/\/\S+ failed: its certificate has expired \(CERT_HAS_EXPIRED\)$/,
    );
    assert.ok(row(status, 'm1').healthy && row(status, 'm2').healthy);
    assert.deepEqual(status.quorum, { voters: 3, healthyVoters: 2, needed: 2, margin: 0 });
  });
});

describe('elastic-etcd status --auto-scaling-group, with the simulated cloud', () => {
  const GROUP = 'etcd-status-e2e';
  let sandbox: EtcdCluster;
  let cloud: SimulatedCloud;
  const etcdOf = new Map<string, EtcdMember>();

  before(async () => {
    sandbox = createCluster();
    cloud = await startSimulatedCloud({
      group: {
        groupName: GROUP,
        seed: 17,
        launchHook: null,
        terminateHook: null,
        allocateIp: () => sandbox.allocateIp(),
        releaseIp: () => undefined, // the sandbox releases its addresses on close
        // A terminated instance's machine goes away, and its etcd with it.
        onShutdown: async (instance) => {
          await etcdOf.get(instance.id)?.kill();
        },
      },
    });
    await cloud.group.setDesired(3);
    await cloud.group.idle();
    const instances = cloud.group.instances();
    // Members named after their instances, as the Lambda names them, on the instances' private IPs.
    const initialCluster = instances.map((i) => `${i.id}=${peerURLOf(i.privateIp)}`).join(',');
    for (const i of instances) {
      etcdOf.set(
        i.id,
        await sandbox.startMember({
          ip: i.privateIp,
          settings: {
            ETCD_NAME: i.id,
            ETCD_INITIAL_CLUSTER: initialCluster,
            ETCD_INITIAL_CLUSTER_STATE: 'new',
            ETCD_INITIAL_CLUSTER_TOKEN: 'status-e2e',
          },
          wait: 'none',
        }),
      );
    }
    await Promise.all([...etcdOf.values()].map((m) => m.waitReady()));
  });
  after(async () => {
    await cloud?.close();
    await sandbox?.close();
  });

  // The SDK warns on Node.js 20 that its 2027 releases need Node.js 22: Node's warning, not the CLI's output.
  const awsEnv = (): Record<string, string> => ({ ...cloud.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  const status = (args: readonly string[] = []): Promise<CliRun> =>
    runCli(['status', `--auto-scaling-group=${GROUP}`, ...args], { env: awsEnv() });

  test('the group side by side with the members, endpoints found through the group', async () => {
    const run = expectExit(await status(), 0, 'status --auto-scaling-group');
    assert.match(run.stdout, new RegExp(`^group ${GROUP}: 3 instances$`, 'm'));
    for (const i of cloud.group.instances()) {
      // The member row names its instance, and the instance row names its member.
      assert.match(run.stdout, new RegExp(`^${i.id} +[0-9a-f]{1,16} +voter +yes +yes .* ${i.id}$`, 'm'));
      assert.match(run.stdout, new RegExp(`^${i.id} +${i.privateIp.replaceAll('.', '\\.')} +InService +running +${i.id}$`, 'm'));
    }
    const json = parseJson(expectExit(await status(['-o', 'json']), 0, 'status --auto-scaling-group -o json'));
    assert.equal(json.group?.name, GROUP);
    assert.deepEqual(json.group?.membersWithoutInstance, []);
    assert.deepEqual(json.group?.instancesWithoutMember, []);
    for (const m of json.members) assert.equal(m.instanceId, m.name);
  });

  test('a member whose instance is gone, and its replacement instance without a member', async () => {
    const [victim] = cloud.group.instances();
    assert.ok(victim !== undefined);
    // Auto Scaling replaces an unhealthy instance: the old one terminates (its etcd dies), a new one launches.
    await cloud.group.terminate(victim.id, { replace: true });
    await cloud.group.idle();
    const replacement = cloud.group.instances().find((i) => !etcdOf.has(i.id));
    assert.ok(replacement !== undefined);
    const survivors = [...etcdOf.entries()].filter(([id]) => id !== victim.id).map(([, m]) => m.clientURL);
    const run = expectExit(await status(['-o', 'json', `--endpoints=${survivors.join(',')}`]), 1, 'status with a gone instance');
    const json = parseJson(run);
    const gone = row(json, victim.id);
    assert.equal(gone.instanceId, null);
    assert.equal(gone.healthy, false);
    assert.deepEqual(json.group?.membersWithoutInstance, [gone.id]);
    assert.deepEqual(json.group?.instancesWithoutMember, [replacement.id]);
    assert.deepEqual(
      json.problems.map((p) => p.code),
      ['member-unhealthy', 'member-without-instance', 'instance-without-member'],
    );
    const table = expectExit(await status([`--endpoints=${survivors.join(',')}`]), 1, 'status table with a gone instance');
    assert.match(table.stdout, new RegExp(`^${victim.id} .* NONE$`, 'm'));
    assert.match(table.stdout, new RegExp(`^${replacement.id} +\\S+ +InService +running +NONE$`, 'm'));
  });

  test('a group that does not exist: exit 1, one line on stderr', async () => {
    const run = await runCli(['status', '--auto-scaling-group=no-such-group'], { env: awsEnv() });
    assert.equal(run.code, 1, run.stderr);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^elastic-etcd: status: .*no-such-group.*\n$/);
  });
});
