// The Lambda bundle: esbuild (local, no Docker) produces an ESM file that loads on Node.js with the AWS SDK inside,
// small enough to start fast, and doing through the SDK exactly what the source does.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { ElasticEtcdCluster } from '../../infra/elastic-etcd-cluster.js';
import { bundleLambda } from '../../infra/lambda-bundle.js';
import { SimulatedFifoQueue } from '../sim/fifo.js';
import { startSimulatedCloud } from '../sim/index.js';
import { handler as exerciseFromSource, type Exercise } from './fixtures/aws-adapters.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/sdk-handler.ts', import.meta.url));
const ADAPTERS_FIXTURE = fileURLToPath(new URL('./fixtures/aws-adapters.ts', import.meta.url));
const HANDLER = fileURLToPath(new URL('../../lambda/handler.ts', import.meta.url));
const CREDENTIALS_FIXTURE = fileURLToPath(new URL('./fixtures/env-credentials.ts', import.meta.url));
/** The default chain's other links and the clients they bring (STS, SSO, sign-in): never used on Lambda. */
const UNUSED_CREDENTIAL_SOURCES =
  /@aws-sdk\/(credential-provider-(node|ini|sso|process|web-identity|http|login)|nested-clients|token-providers)\/|@smithy\/credential-provider-imds\//;
/** The budget of issue 11: what the Lambda downloads and parses on every cold start. */
const MAX_BUNDLE_BYTES = 1024 * 1024;

function withTempDir<T>(body: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'elastic-etcd-bundle-'));
  return body(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('the bundled handler is ESM, carries the SDK, and runs', { timeout: 120_000 }, async () => {
  await withTempDir(async (outdir) => {
    const app = new App({ outdir });
    new ElasticEtcdCluster(new Stack(app, 'Bundle'), 'Cluster', { lambdaEntry: FIXTURE });
    app.synth();
    const bundles = readdirSync(outdir)
      .filter((name) => name.startsWith('asset.'))
      .map((name) => join(outdir, name, 'index.mjs'))
      .filter((path) => {
        try {
          return statSync(path).isFile();
        } catch {
          return false;
        }
      });
    assert.equal(bundles.length, 1, `one .mjs bundle expected, found ${bundles.length}`);
    const [bundle] = bundles as [string];
    assert.ok(statSync(bundle).size > 50_000, 'the SDK is bundled, not left to the runtime');
    const module = (await import(pathToFileURL(bundle).href)) as { handler: () => Promise<string> };
    assert.equal(await module.handler(), 'eu-west-1+eu-central-1');
  });
});

test(
  'the Lambda bundle stays under 1 MiB, without the credential providers, multipart bodies and debug logging a Lambda never uses',
  { timeout: 120_000 },
  async () => {
    await withTempDir(async (outdir) => {
      const { file, metafile } = await bundleLambda(HANDLER, outdir);
      const bytes = statSync(file).size;
      assert.ok(bytes < MAX_BUNDLE_BYTES, `lambda/handler.ts bundles to ${bytes} bytes, over the ${MAX_BUNDLE_BYTES}-byte budget`);
      const inputs = Object.keys(metafile.inputs);
      const chain = inputs.filter((path) => UNUSED_CREDENTIAL_SOURCES.test(path));
      assert.deepEqual(chain, [], 'the default credential chain (SSO, INI, STS, instance metadata) is left out');
      const stubbed = inputs.filter((path) => /node_modules\/(form-data|mime-db|debug)\//.test(path));
      assert.deepEqual(stubbed, [], 'form-data (and its MIME database) and debug are replaced by the stand-ins in infra/');
      assert.ok(
        inputs.some((path) => path.includes('@aws-sdk/credential-provider-env/')),
        'the environment credential provider is in',
      );
      assert.match(readFileSync(join(outdir, 'index.mjs.LEGAL.txt'), 'utf8'), /@peculiar\/x509/, 'the licences ship beside the bundle');
    });
  },
);

test('the bundled SDK signs with the credentials in the environment, and says so when there are none', { timeout: 120_000 }, async () => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ Parameter: { Name: '/bundle-check/credentials', Type: 'String', Value: 'signed', Version: 1 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const saved = { ...process.env };
  try {
    await withTempDir(async (outdir) => {
      const { file } = await bundleLambda(CREDENTIALS_FIXTURE, outdir);
      const bundled = (await import(pathToFileURL(file).href)) as {
        handler: (endpoint: string) => Promise<{ value?: string; failed?: string }>;
      };

      // What Lambda sets for the function's role.
      process.env.AWS_ACCESS_KEY_ID = 'ASIAFROMTHEENVIRONMENT';
      process.env.AWS_SECRET_ACCESS_KEY = 'secret-from-the-environment';
      process.env.AWS_SESSION_TOKEN = 'session-token-from-the-environment';
      assert.deepEqual(await bundled.handler(endpoint), { value: 'signed' });
      assert.equal(seen.length, 1);
      const [request] = seen as [IncomingHttpHeaders];
      assert.match(
        String(request.authorization),
        /^AWS4-HMAC-SHA256 Credential=ASIAFROMTHEENVIRONMENT\/\d{8}\/us-east-1\/ssm\/aws4_request, /,
      );
      assert.equal(request['x-amz-security-token'], 'session-token-from-the-environment');

      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      delete process.env.AWS_SESSION_TOKEN;
      const { failed } = await bundled.handler(endpoint);
      assert.match(String(failed), /environment variable credentials/);
      assert.equal(seen.length, 1, 'nothing is sent unsigned');
    });
  } finally {
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'] as const) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test(
  'every AWS adapter answers the same from the bundle as from source (successes and modelled errors)',
  { timeout: 120_000 },
  async () => {
    const cloud = await startSimulatedCloud({
      group: { groupName: 'bundle-asg', seed: 11, launchHook: 'etcd-launch', terminateHook: 'etcd-terminate' },
    });
    try {
      await cloud.group.setDesired(2);
      await cloud.group.idle();
      const queue = new SimulatedFifoQueue({ name: 'bundle.fifo', visibilityTimeoutMs: 60_000, maxReceiveCount: 5 });
      cloud.attachQueue(queue);
      const input: Exercise = {
        endpoint: cloud.url,
        groupName: 'bundle-asg',
        instanceIds: cloud.group.instances().map((i) => i.id),
        unknownInstanceId: 'i-00000000000000bad',
        queueArn: queue.arn,
      };
      const fromSource = await exerciseFromSource(input);
      await withTempDir(async (outdir) => {
        const { file } = await bundleLambda(ADAPTERS_FIXTURE, outdir);
        const bundled = (await import(pathToFileURL(file).href)) as { handler: typeof exerciseFromSource };
        assert.deepEqual(await bundled.handler(input), fromSource);
      });
      // The answers compared above include the modelled errors of each protocol, not only successes.
      const answers = fromSource as {
        ec2: { found: unknown[]; gone: string[] };
        createdAgain: { created: boolean };
        staleReceipt: unknown;
      };
      assert.equal(answers.ec2.found.length, 2, 'both instances found');
      assert.deepEqual(answers.ec2.gone, ['i-00000000000000bad'], 'the unknown ID answered InvalidInstanceID.NotFound');
      assert.equal(answers.createdAgain.created, false, 'PutParameter answered ParameterAlreadyExists');
      assert.deepEqual(answers.staleReceipt, { failed: 'ChangeMessageVisibility ReceiptHandleIsInvalid' });
    } finally {
      await cloud.group.setDesired(0);
      for (const action of cloud.group.pendingActions()) {
        await cloud.group.completeLifecycleAction({
          groupName: 'bundle-asg',
          hookName: action.hookName,
          instanceId: action.instanceId,
          result: 'CONTINUE',
        });
      }
      await cloud.group.idle();
      await cloud.close();
    }
  },
);
