// `npm run chaos`: seeded random fault schedules on the simulated group with real etcd, each followed by the
// safety checks of test/chaos/run.ts. Every failure prints the seed and the command that replays it.
//
//   npm run chaos -- [--seed N] [--runs N] [--steps N] [--size 3|5] [--etcd-version 3.4|3.5 | --mixed] [--verbose]
import { parseArgs } from 'node:util';
import { CHAOS_RESTORE_AFTER_MS, runChaos, type ChaosResult } from '../test/chaos/run.js';
import type { EtcdVersionName } from '../test/harness/index.js';
import { missingEtcd, scriptEtcdVersion } from './support.js';

const USAGE = `usage: npm run chaos -- [--seed N] [--runs N] [--steps N] [--size 3|5] [--etcd-version 3.4|3.5 | --mixed] [--long-faults] [--lose-quorum] [--verbose]
  --seed N            first seed (default: random); run i uses seed N+i
  --runs N            number of runs (default 3)
  --steps N           faults per run (default 8)
  --size N            the group's base size, 3 or 5 (default 3); the cluster may grow to 5
  --etcd-version V    the etcd the group runs (default: ETCD_VERSION, else 3.5)
  --mixed             a group mid-upgrade: the cluster forms on etcd 3.4, every later instance runs 3.5
  --long-faults       also hang a member for a long time and crash-loop one (each must be healed through the group)
  --lose-quorum       also lose the quorum once (a majority or every instance, by the seed), right after a backup;
                      backups on; reports the writes lost after the newest snapshot and the recovery time
  --verbose           also print the world's timeline`;

function integer(raw: string | undefined, name: string, min: number, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max)
    throw new Error(`--${name} must be an integer ${min}-${max}, got ${JSON.stringify(raw)}`);
  return value;
}

function replay(result: ChaosResult, size: number, versions: string): string {
  return `npm run chaos -- --seed ${result.seed} --runs 1 --steps ${result.steps}${size === 3 ? '' : ` --size ${size}`}${result.longFaults ? ' --long-faults' : ''}${result.loseQuorum ? ' --lose-quorum' : ''} ${versions}`;
}

async function main(): Promise<number> {
  let options;
  try {
    const { values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        seed: { type: 'string' },
        runs: { type: 'string' },
        steps: { type: 'string' },
        size: { type: 'string' },
        'etcd-version': { type: 'string' },
        mixed: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        'long-faults': { type: 'boolean', default: false },
        'lose-quorum': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const size = integer(values.size, 'size', 3, 5, 3);
    if (size !== 3 && size !== 5) throw new Error('--size must be 3 or 5');
    if (values.mixed && values['etcd-version'] !== undefined)
      throw new Error('--mixed always forms on etcd 3.4 and launches 3.5: leave out --etcd-version');
    const etcdVersion: EtcdVersionName = values.mixed ? '3.4' : scriptEtcdVersion(values['etcd-version']);
    options = {
      seed: integer(values.seed, 'seed', 0, 2 ** 32 - 1, Math.floor(Math.random() * 2 ** 31)),
      runs: integer(values.runs, 'runs', 1, 1000, 3),
      steps: integer(values.steps, 'steps', 1, 200, 8),
      size,
      verbose: values.verbose,
      etcdVersion,
      ...(values.mixed && { mixedWith: '3.5' as const }),
      longFaults: values['long-faults'],
      loseQuorum: values['lose-quorum'],
    };
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const missing = missingEtcd(options.mixedWith === undefined ? [options.etcdVersion] : [options.etcdVersion, options.mixedWith]);
  if (missing !== undefined) {
    process.stderr.write(`chaos needs real etcd: ${missing}\n`);
    return 1;
  }
  const versions = options.mixedWith === undefined ? `--etcd-version ${options.etcdVersion}` : '--mixed';

  const failed: ChaosResult[] = [];
  for (let i = 0; i < options.runs; i++) {
    const seed = (options.seed + i) >>> 0;
    process.stdout.write(
      `\nchaos run ${i + 1}/${options.runs}: seed ${seed}, ${options.steps} steps, base size ${options.size}, ` +
        `${options.mixedWith === undefined ? `etcd ${options.etcdVersion}` : `formed on etcd ${options.etcdVersion}, launches on ${options.mixedWith}`}, mutual TLS\n`,
    );
    const result = await runChaos({
      seed,
      steps: options.steps,
      baseSize: options.size,
      verbose: options.verbose,
      etcdVersion: options.etcdVersion,
      ...(options.mixedWith !== undefined && { mixedWith: options.mixedWith }),
      longFaults: options.longFaults,
      loseQuorum: options.loseQuorum,
      log: (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(
      `  ${result.ok ? 'PASS' : 'FAIL'} seed ${seed} in ${(result.durationMs / 1000).toFixed(1)} s: ${result.deliveries} deliveries, ` +
        `${result.writes.acknowledged}/${result.writes.attempted} writes acknowledged, ${result.writes.lost.length} lost, ` +
        `${result.samples} quorum samples, converged after ${result.reconcilePasses} reconcile pass(es)\n`,
    );
    const q = result.quorumLoss;
    if (q !== undefined)
      process.stdout.write(
        `  quorum lost at step ${q.step} (${q.kind}: ${q.lost.length} instances): restored from ${q.restoredFrom ?? 'nothing'}` +
          `${q.rescue ? ' (rescue snapshot)' : ''}; recovery time ${q.recoveryMs === undefined ? 'none (not recovered)' : `${(q.recoveryMs / 1000).toFixed(1)} s`}` +
          ` (includes the ${CHAOS_RESTORE_AFTER_MS / 1000} s restore wait); recovery point: ${q.writesLost.length} acknowledged writes lost after the newest snapshot` +
          `${q.writesLost.length > 0 ? ` (${q.writesLost.slice(0, 10).join(', ')}${q.writesLost.length > 10 ? ', ...' : ''})` : ''}\n`,
      );
    if (!result.ok) {
      failed.push(result);
      for (const v of result.violations) process.stdout.write(`  violation: ${v}\n`);
      for (const r of result.refusals.slice(0, 5)) process.stdout.write(`  handler ${r}\n`);
      process.stdout.write(`  replay: ${replay(result, options.size, versions)}\n`);
    }
  }
  process.stdout.write(`\n${options.runs - failed.length}/${options.runs} runs passed`);
  if (failed.length > 0)
    process.stdout.write(
      `; failing seeds: ${failed.map((r) => r.seed).join(', ')} (replay: ${replay(failed[0]!, options.size, versions)})`,
    );
  process.stdout.write('\n');
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
