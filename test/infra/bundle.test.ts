// The Lambda bundle: esbuild (local, no Docker) produces an ESM file that loads on Node.js with the AWS SDK inside.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { ElasticEtcdCluster } from '../../infra/elastic-etcd-cluster.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/sdk-handler.ts', import.meta.url));

test('the bundled handler is ESM, carries the SDK, and runs', { timeout: 120_000 }, async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'elastic-etcd-bundle-'));
  try {
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
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
