// `npm run demo`: the Lambda's main job on this machine. A simulated Auto Scaling group whose instances are
// real etcd processes on loopback addresses, driven by the real lifecycle handler through the simulated cloud
// (test/sim/world.ts). Bootstraps 3 members, writes keys, kills an instance and lets the group replace it,
// scales out to 5 and in to 3, then loses every instance at once and lets the cluster come back from its backup
// in S3 (the Lambda's automatic restore), and checks that the cluster is healthy and still holds every key.
// With --upgrade: bootstraps 3 members on etcd 3.4 instead, writes keys, and replaces every member with a 3.5
// one through the handler under continuous writes (test/chaos/upgrade.ts), then checks the same.
// Every member runs mutual TLS, as the stack does by default: the Lambda issues each member's certificate from
// the cluster's own CA; --plain-http runs the development mode instead.
//
//   npm run demo -- [--etcd-version 3.4|3.5] [--upgrade] [--plain-http] [--verbose]
import { parseArgs } from 'node:util';
import { memberTable, missingEtcd, printTimelineEntry, renderTable, scriptEtcdVersion, type TimelineOptions } from './support.js';
import { formatStatusTable } from '../src/core/status.js';
import { observeStatus } from '../src/services/status.js';
import { silentLogger } from '../src/services/log.js';
import { rollingUpgrade } from '../test/chaos/upgrade.js';
import { CLIENT_PORT, PEER_PORT, servedCertificate, type EtcdVersionName } from '../test/harness/index.js';
import { startWorld, type World } from '../test/sim/world.js';

const USAGE = `usage: npm run demo -- [--etcd-version 3.4|3.5] [--upgrade] [--plain-http] [--verbose]
  --etcd-version V  the etcd the group runs (default: ETCD_VERSION, else 3.5)
  --upgrade         form the cluster on etcd 3.4, then replace every member with a 3.5 one under writes
  --plain-http      no TLS (the development mode); by default every member runs mutual TLS
  --verbose         also show the event queue's bookkeeping`;

const KEYS = 20;
/** Keys written after the last backup, before the disaster: the writes a restore cannot bring back. */
const LOST_KEYS = 3;
/** The demo's lost cluster is restored after this much silence (production default: 10 min). */
const DEMO_RESTORE_AFTER_MS = 2_000;
const SETTLE_MS = 90_000;

/**
 * What `elastic-etcd status --auto-scaling-group` prints, from the command's own code (observeStatus, then
 * formatStatusTable): the members asked over the world's client TLS, the simulated group's instances beside them.
 */
async function statusTable(world: World): Promise<string> {
  const outcome = await observeStatus({
    endpoints: world.endpoints(),
    connection: await world.connection(),
    group: {
      name: world.group.name,
      read: () =>
        Promise.resolve(
          world.group
            .instances()
            .map((i) => ({ instanceId: i.id, lifecycleState: i.lifecycleState, privateIp: i.privateIp, ec2State: i.ec2State })),
        ),
    },
    log: silentLogger,
  });
  if (outcome.kind === 'unreachable')
    return `status: no etcd endpoint answered${outcome.error === undefined ? '' : `: ${outcome.error}`}\n`;
  return `${formatStatusTable(outcome.summary).trimEnd().replace(/^/gm, '  ')}\n`;
}

async function phase(world: World, title: string, action: () => Promise<void>): Promise<void> {
  process.stdout.write(`\n=== ${title} ===\n`);
  const started = Date.now();
  await action();
  await world.settle({ timeoutMs: SETTLE_MS });
  process.stdout.write(`--- ${title}: settled in ${((Date.now() - started) / 1000).toFixed(1)} s; the cluster matches the group ---\n`);
  process.stdout.write(`--- elastic-etcd status:\n${await statusTable(world)}`);
}

/** Every instance is lost at once; the Lambda restores the cluster from its newest snapshot in S3. */
async function disaster(world: World): Promise<void> {
  const stored = await world.backUpNow();
  process.stdout.write(`\n=== Backup: the Lambda's snapshot in S3 ===\n`);
  process.stdout.write(
    `stored ${stored.key}: revision ${stored.manifest.revision}, ${stored.manifest.size} bytes, SHA-256 ${stored.manifest.sha256.slice(0, 16)}…\n`,
  );
  for (let i = 1; i <= LOST_KEYS; i++) await world.put(`/demo/after-backup-${i}`, `lost-${i}`);
  process.stdout.write(`wrote ${LOST_KEYS} more keys after the backup: a disaster now loses them (the recovery point)\n`);
  // The scheduled pass notes the revision the cluster reached: the restore then says how many revisions it lost.
  await world.reconcile();
  await phase(world, 'Disaster: every instance is lost at once; the group replaces them and the Lambda restores the backup', async () => {
    await world.loseAll();
  });
  const restore = world.telemetry?.decisions().find((d) => d.decision === 'restore');
  if (restore !== undefined) process.stdout.write(`--- the Lambda's decision: ${String(restore.reason)}\n`);
  let lost = 0;
  for (let i = 1; i <= LOST_KEYS; i++) if ((await world.get(`/demo/after-backup-${i}`)) === undefined) lost++;
  process.stdout.write(`--- ${lost} of the ${LOST_KEYS} keys written after the backup are gone, as the recovery point says\n`);
}

/** What a TLS handshake with the first member shows: the certificate the Lambda issued it, on both listeners. */
async function showTls(world: World): Promise<void> {
  const client = await world.clientTls();
  const id = world.inService()[0];
  if (client === undefined || id === undefined) return;
  const ip = world.instance(id).privateIp;
  const [onClient, onPeer] = await Promise.all([servedCertificate(ip, CLIENT_PORT, client), servedCertificate(ip, PEER_PORT, client)]);
  process.stdout.write(
    `\n=== TLS ===\n` +
      `${id} serves the certificate the Lambda issued it (serial ${onClient.serialNumber.slice(0, 16)}…, ${onClient.subjectAltName}, ` +
      `valid until ${onClient.validTo.toISOString()}) on its client listener and ${onPeer.serialNumber === onClient.serialNumber ? 'the same one' : 'ANOTHER ONE'} on its peer listener;\n` +
      `clients and peers must present a certificate from the cluster's CA (${world.caParameterName()}): this demo's own client does\n`,
  );
}

async function run(world: World, upgrade: boolean): Promise<{ keysOk: number; deliveries: number; failures: number; problems: string[] }> {
  const problems: string[] = [];
  await phase(world, `Bootstrap: the group launches 3 instances (etcd ${world.launchEtcdVersion()})`, () => world.scaleTo(3));
  await showTls(world);

  process.stdout.write(`\n=== Writing ${KEYS} keys ===\n`);
  for (let i = 1; i <= KEYS; i++) await world.put(`/demo/key-${String(i).padStart(3, '0')}`, `value-${i}`);
  process.stdout.write(`wrote /demo/key-001 .. /demo/key-${String(KEYS).padStart(3, '0')}\n`);

  if (upgrade) {
    process.stdout.write(
      `\n=== Rolling upgrade to etcd 3.5 under continuous writes: one old member out, then its replacement in, as the stack's rolling update does ===\n`,
    );
    const result = await rollingUpgrade(world, '3.5', (line) => process.stdout.write(`--- ${line}\n`));
    process.stdout.write(
      `--- upgrade done in ${(result.durationMs / 1000).toFixed(1)} s: cluster version ${result.clusterVersion ?? '(no answer)'}, ` +
        `${result.writes.acknowledged}/${result.writes.attempted} writes acknowledged, ${result.writes.lost.length} lost, ` +
        `${result.samples} quorum samples, ${result.violations.length === 0 ? 'quorum never lost' : 'VIOLATIONS'}\n`,
    );
    process.stdout.write(`${renderTable(await memberTable(world, (await world.check()).members))}\n`);
    problems.push(...result.violations);
  } else {
    const victim = world.inService()[0];
    if (victim === undefined) throw new Error('no instance in service');
    await phase(world, `Instance ${victim} dies; the group replaces it`, () => world.crash(victim));
    await phase(world, 'Scale out to 5', () => world.scaleTo(5));
    await phase(world, 'Scale in to 3', () => world.scaleTo(3));
    await disaster(world);
  }

  process.stdout.write(`\n=== Reading every key back ===\n`);
  let keysOk = 0;
  for (let i = 1; i <= KEYS; i++) {
    const key = `/demo/key-${String(i).padStart(3, '0')}`;
    const value = await world.get(key);
    if (value === `value-${i}`) keysOk++;
    else process.stdout.write(`MISSING ${key}: got ${JSON.stringify(value)}\n`);
  }
  process.stdout.write(`${keysOk}/${KEYS} keys intact\n`);
  return { keysOk, deliveries: world.deliveries.length, failures: world.deliveries.filter((d) => d.error !== undefined).length, problems };
}

async function main(): Promise<number> {
  let version: EtcdVersionName;
  let upgrade: boolean;
  let verbose: boolean;
  let tls: boolean;
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        'etcd-version': { type: 'string' },
        upgrade: { type: 'boolean', default: false },
        'plain-http': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    if (values.upgrade && values['etcd-version'] !== undefined)
      throw new Error('--upgrade always goes from etcd 3.4 to 3.5: leave out --etcd-version');
    upgrade = values.upgrade;
    tls = !values['plain-http'];
    verbose = values.verbose;
    version = upgrade ? '3.4' : scriptEtcdVersion(values['etcd-version']);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const missing = missingEtcd(upgrade ? ['3.4', '3.5'] : [version]);
  if (missing !== undefined) {
    process.stderr.write(`The demo runs real etcd: ${missing}, then run \`npm run demo\` again.\n`);
    return 1;
  }
  const started = Date.now();
  const timeline: TimelineOptions = { verbose };
  process.stdout.write(
    `elastic-etcd demo: a simulated Auto Scaling group of real etcd ${upgrade ? '3.4 (then 3.5)' : version} members, managed by the real Lambda handler\n` +
      `TLS: ${tls ? "on: mutual TLS on every member's client and peer listener, certificates issued by the Lambda from the cluster's own CA" : 'off (--plain-http, the development mode)'}\n`,
  );
  const world = await startWorld({
    clusterSize: 5,
    seed: 2024,
    etcdVersion: version,
    backupBucket: 'demo-etcd-backups',
    restoreAfterMs: DEMO_RESTORE_AFTER_MS,
    tls,
    onLog: (entry) => printTimelineEntry(entry, timeline),
  });
  let exitCode = 1;
  try {
    const { keysOk, deliveries, failures, problems } = await run(world, upgrade);
    const final = await world.check();
    const healthy = final.problems.length === 0 && problems.length === 0;
    const decisions = (world.telemetry?.decisions() ?? []).length;
    process.stdout.write(
      `\n=== Summary ===\n` +
        `  time:        ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
        `  events:      ${deliveries} delivered to the handler (${failures} failed and were retried), ${decisions} decisions logged\n` +
        `  tls:         ${tls ? 'on (mutual TLS, client certificates required on both listeners)' : 'off (plain HTTP)'}\n` +
        `  cluster:     ${final.members.length} members, ${healthy ? 'healthy, matching the group' : `PROBLEMS: ${[...final.problems, ...problems].join('; ')}`}\n` +
        `  keys:        ${keysOk}/${KEYS} intact\n` +
        `  result:      ${healthy && keysOk === KEYS ? 'OK' : 'FAILED'}\n`,
    );
    exitCode = healthy && keysOk === KEYS ? 0 : 1;
  } catch (err) {
    process.stderr.write(
      `\ndemo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n${world.describeTimeline(20)}\n`,
    );
  } finally {
    process.stdout.write('cleaning up: stopping every etcd and the simulated cloud\n');
    await world.close();
  }
  return exitCode;
}

process.exitCode = await main();
