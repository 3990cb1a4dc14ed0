// The Lambda bundle as the construct builds it (infra/lambda-bundle.ts: esbuild, ESM, minified, node22, the AWS SDK
// inside), its size, and its cold start: a fresh node process imports the bundle and calls the handler once with a
// test notification.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { bundleLambda } from '../infra/lambda-bundle.js';
import { toEnvironment } from '../src/lambda/config.js';

export const REPO_ROOT = new URL('../', import.meta.url);

export interface Bundle {
  readonly dir: string;
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly buildMs: number;
  dispose(): void;
}

/** Bundles lambda/handler.ts exactly as the construct does (infra/lambda-bundle.ts). */
export async function buildLambdaBundle(): Promise<Bundle> {
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-bench-bundle-'));
  const started = performance.now();
  const { file } = await bundleLambda(new URL('lambda/handler.ts', REPO_ROOT).pathname, dir);
  const buildMs = performance.now() - started;
  const content = readFileSync(file);
  return {
    dir,
    file,
    bytes: statSync(file).size,
    gzipBytes: gzipSync(content, { level: 9 }).length,
    buildMs,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The configuration the construct gives the function; the values only have to be valid. */
export const LAMBDA_ENV: Readonly<Record<string, string>> = {
  ...toEnvironment({
    clusterName: 'bench',
    parameterPrefix: '/elastic-etcd',
    autoScalingGroup: 'bench-asg',
    clusterSize: 3,
    launchHook: 'etcd-launch',
    terminateHook: 'etcd-terminate',
  }),
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'BENCHACCESSKEY',
  AWS_SECRET_ACCESS_KEY: 'bench-secret',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
};

const MARKER = 'ELASTIC_ETCD_BENCH_RESULT ';

/** Runs in the fresh process: import, then the first call; prints one marked JSON line. */
const CHILD_SCRIPT = `
const t0 = performance.now();
const mod = await import(process.env.BENCH_BUNDLE_URL);
const t1 = performance.now();
const event = { Event: 'autoscaling:TEST_NOTIFICATION', AutoScalingGroupName: 'bench-asg', Service: 'AWS Auto Scaling', Time: new Date().toISOString() };
const result = await mod.handler(event, { getRemainingTimeInMillis: () => 60000, awsRequestId: 'bench', invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench' });
const t2 = performance.now();
process.stdout.write(${JSON.stringify(MARKER)} + JSON.stringify({ importMs: t1 - t0, firstCallMs: t2 - t1, processMs: t2 + performance.timeOrigin - ${'${START}'}, result }) + '\\n');
`;

export interface ColdStart {
  readonly importMs: number;
  readonly firstCallMs: number;
  /** From asking the OS for the process to the end of the first call (node's own start included). */
  readonly totalMs: number;
}

/** One cold start in a fresh `node` process with the Lambda's environment. */
export async function coldStart(bundle: Bundle): Promise<ColdStart> {
  const spawnedAt = performance.timeOrigin + performance.now();
  const script = CHILD_SCRIPT.replace('${START}', String(spawnedAt));
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV, BENCH_BUNDLE_URL: pathToFileURL(bundle.file).href },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (code !== 0 || line === undefined) throw new Error(`cold start failed (exit ${String(code)}):\n${stdout}\n${stderr}`);
  const parsed = JSON.parse(line.slice(MARKER.length)) as {
    importMs: number;
    firstCallMs: number;
    processMs: number;
    result: { kind?: unknown };
  };
  if (parsed.result.kind !== 'ignore')
    throw new Error(`the handler answered ${JSON.stringify(parsed.result)}, expected the test notification to be ignored`);
  return { importMs: parsed.importMs, firstCallMs: parsed.firstCallMs, totalMs: parsed.processMs };
}
