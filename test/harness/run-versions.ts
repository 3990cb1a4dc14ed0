// Runs test files once per etcd version (ETCD_VERSION=3.4, then 3.5), one version after the other, and labels
// every output line and the summary with the version, so a failure says which etcd it failed on.
//
//   node --import tsx test/harness/run-versions.ts [--versions 3.4,3.5] [--concurrency N] FILE...
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { etcdBinaries, EtcdSetupError, ETCD_VERSIONS, parseEtcdVersionName, type EtcdVersionName } from './versions.js';

const USAGE = 'usage: node --import tsx test/harness/run-versions.ts [--versions 3.4,3.5] [--concurrency N] FILE...';

interface Outcome {
  readonly version: EtcdVersionName;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
  readonly summary: string[];
  /** The titles of failed tests, so the closing summary names them even when the log above is cut. */
  readonly failures: string[];
}

function runOnce(version: EtcdVersionName, files: readonly string[], concurrency: number): Promise<Outcome> {
  const started = Date.now();
  const label = `[etcd ${version}] `;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
    {
      // The SDK warns once per process that Node 20 support ends in 2027; the Lambda runs on Node 22, and the
      // warning, repeated by every test process, would bury the test output.
      env: { ...process.env, ETCD_VERSION: version, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const summary: string[] = [];
  const failures = new Set<string>();
  const relay = (stream: NodeJS.ReadableStream, out: NodeJS.WriteStream) => {
    createInterface({ input: stream }).on('line', (line) => {
      out.write(`${label}${line}\n`);
      // The spec reporter's closing counts: "ℹ tests 69", "ℹ pass 67", "ℹ fail 2", ...
      if (/^ℹ (tests|pass|fail|cancelled|skipped) \d+/.test(line)) summary.push(line.slice(2));
      // "✖ title (12ms)" for each failed test and suite; the reporter's own "✖ failing tests:" header is not one.
      const failed = /^\s*✖ (.+?)(?: \([\d.]+ms\))?$/.exec(line);
      if (failed !== null && failed[1] !== 'failing tests:') failures.add(failed[1]!);
    });
  };
  relay(child.stdout, process.stdout);
  relay(child.stderr, process.stderr);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ version, code, signal, ms: Date.now() - started, summary, failures: [...failures] }));
  });
}

async function main(): Promise<number> {
  let versions: EtcdVersionName[];
  let concurrency: number;
  let files: string[];
  try {
    const { values, positionals } = parseArgs({
      args: process.argv.slice(2),
      options: { versions: { type: 'string' }, concurrency: { type: 'string' } },
      strict: true,
      allowPositionals: true,
    });
    versions = (values.versions ?? ETCD_VERSIONS.join(',')).split(',').map((v) => parseEtcdVersionName(v, '--versions'));
    concurrency = Number(values.concurrency ?? '3');
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16)
      throw new Error(`--concurrency must be an integer 1-16, got ${JSON.stringify(values.concurrency)}`);
    if (positionals.length === 0) throw new Error('no test files given');
    files = positionals;
    for (const version of versions) etcdBinaries(version); // a missing etcd says what to run, before anything starts
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${err instanceof EtcdSetupError ? '' : `${USAGE}\n`}`);
    return 2;
  }
  const outcomes: Outcome[] = [];
  for (const version of versions) outcomes.push(await runOnce(version, files, concurrency));
  process.stdout.write('\netcd-touching suites, per etcd version:\n');
  for (const o of outcomes) {
    const verdict = o.code === 0 ? 'passed' : `FAILED (${o.signal ?? `exit ${String(o.code)}`})`;
    process.stdout.write(`  etcd ${o.version}: ${verdict} in ${(o.ms / 1000).toFixed(0)} s; ${o.summary.join(', ')}\n`);
    for (const title of o.failures) process.stdout.write(`    failed: ${title}\n`);
  }
  const failed = outcomes.filter((o) => o.code !== 0);
  if (failed.length > 0)
    process.stdout.write(
      `failing on etcd ${failed.map((o) => o.version).join(' and ')}: see the lines labelled [etcd ${failed[0]!.version}] above\n`,
    );
  // Both versions' counts in the plain closing form CI tools read ("N passed, N failed").
  const count = (name: string) =>
    outcomes.reduce((sum, o) => sum + Number(/\d+/.exec(o.summary.find((l) => l.startsWith(`${name} `)) ?? '0')?.[0] ?? 0), 0);
  process.stdout.write(`etcd: ${count('pass')} passed, ${count('fail')} failed\n`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
