// `npm run demo`: the Lambda's main job on this machine. A simulated Auto Scaling group whose instances are
// real etcd processes on loopback addresses, driven by the real lifecycle handler through the simulated cloud
// (test/sim/world.ts). Bootstraps 3 members, writes keys, kills an instance and lets the group replace it,
// scales out to 5 and in to 3, and checks that the cluster is healthy and still holds every key.
import { ETCD_BIN, ETCDCTL_BIN, memberTable, missingTools, printTimelineEntry, renderTable, type TimelineOptions } from './support.js';
import { startWorld, type World } from '../test/sim/world.js';

const KEYS = 20;
const SETTLE_MS = 90_000;

async function phase(world: World, title: string, action: () => Promise<void>): Promise<void> {
  process.stdout.write(`\n=== ${title} ===\n`);
  const started = Date.now();
  await action();
  const result = await world.settle({ timeoutMs: SETTLE_MS });
  process.stdout.write(`--- ${title}: settled in ${((Date.now() - started) / 1000).toFixed(1)} s; the cluster matches the group ---\n`);
  process.stdout.write(`${renderTable(await memberTable(world, result.members))}\n`);
}

async function run(world: World): Promise<{ keysOk: number; deliveries: number; failures: number }> {
  await phase(world, 'Bootstrap: the group launches 3 instances', () => world.scaleTo(3));

  process.stdout.write(`\n=== Writing ${KEYS} keys ===\n`);
  for (let i = 1; i <= KEYS; i++) await world.put(`/demo/key-${String(i).padStart(3, '0')}`, `value-${i}`);
  process.stdout.write(`wrote /demo/key-001 .. /demo/key-${String(KEYS).padStart(3, '0')}\n`);

  const victim = world.inService()[0];
  if (victim === undefined) throw new Error('no instance in service');
  await phase(world, `Instance ${victim} dies; the group replaces it`, () => world.crash(victim));
  await phase(world, 'Scale out to 5', () => world.scaleTo(5));
  await phase(world, 'Scale in to 3', () => world.scaleTo(3));

  process.stdout.write(`\n=== Reading every key back ===\n`);
  let keysOk = 0;
  for (let i = 1; i <= KEYS; i++) {
    const key = `/demo/key-${String(i).padStart(3, '0')}`;
    const value = await world.get(key);
    if (value === `value-${i}`) keysOk++;
    else process.stdout.write(`MISSING ${key}: got ${JSON.stringify(value)}\n`);
  }
  process.stdout.write(`${keysOk}/${KEYS} keys intact\n`);
  return { keysOk, deliveries: world.deliveries.length, failures: world.deliveries.filter((d) => d.error !== undefined).length };
}

async function main(): Promise<number> {
  const missing = missingTools([ETCD_BIN, ETCDCTL_BIN]);
  if (missing.length > 0) {
    process.stderr.write(
      `The demo runs real etcd, but ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} missing.\n` +
        'Install it with:  sudo apt-get install -y etcd-server etcd-client\n' +
        '(or run the README\'s set-up command), then run `npm run demo` again.\n',
    );
    return 1;
  }
  const started = Date.now();
  const timeline: TimelineOptions = { verbose: process.argv.includes('--verbose') };
  process.stdout.write('elastic-etcd demo: a simulated Auto Scaling group of real etcd members, managed by the real Lambda handler\n');
  const world = await startWorld({ clusterSize: 5, seed: 2024, onLog: (entry) => printTimelineEntry(entry, timeline) });
  let exitCode = 1;
  try {
    const { keysOk, deliveries, failures } = await run(world);
    const final = await world.check();
    const healthy = final.problems.length === 0;
    const decisions = (world.telemetry?.decisions() ?? []).length;
    process.stdout.write(
      `\n=== Summary ===\n` +
        `  time:        ${((Date.now() - started) / 1000).toFixed(1)} s\n` +
        `  events:      ${deliveries} delivered to the handler (${failures} failed and were retried), ${decisions} decisions logged\n` +
        `  cluster:     ${final.members.length} members, ${healthy ? 'healthy, matching the group' : `PROBLEMS: ${final.problems.join('; ')}`}\n` +
        `  keys:        ${keysOk}/${KEYS} intact\n` +
        `  result:      ${healthy && keysOk === KEYS ? 'OK' : 'FAILED'}\n`,
    );
    exitCode = healthy && keysOk === KEYS ? 0 : 1;
  } catch (err) {
    process.stderr.write(`\ndemo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n${world.describeTimeline(20)}\n`);
  } finally {
    process.stdout.write('cleaning up: stopping every etcd and the simulated cloud\n');
    await world.close();
  }
  return exitCode;
}

process.exitCode = await main();
