// The real CDK CLI (pinned 2.x) synthesises the app offline, with cdk-nag applied, into a fresh directory.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function run(command: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, CDK_DISABLE_VERSION_CHECK: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

test('npx cdk synth exits 0 offline and writes the template', { timeout: 180_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'elastic-etcd-cdk-out-'));
  try {
    const { code, output } = await run('npx', ['cdk', 'synth', '--quiet', '--no-notices', '--output', out], 170_000);
    assert.equal(code, 0, output);
    const templatePath = join(out, 'ElasticEtcd.template.json');
    assert.ok(existsSync(templatePath), output);
    const text = readFileSync(templatePath, 'utf8');
    const template = JSON.parse(text) as { Resources: Record<string, { Type: string }>; Outputs: unknown };
    const types = Object.values(template.Resources).map((r) => r.Type);
    assert.ok(types.includes('AWS::AutoScaling::AutoScalingGroup'));
    assert.ok(!types.includes('AWS::AutoScaling::LaunchConfiguration'));
    assert.ok(!types.includes('AWS::AutoScaling::LifecycleHook'), 'hooks live on the group');
    // Environment-agnostic by default: no region of the synth machine (or us-east-1) baked into a resource or an
    // output (CDK's own CDKMetadataAvailable condition lists regions; it pins nothing).
    assert.doesNotMatch(JSON.stringify([template.Resources, template.Outputs]), /"(us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+-\d"/);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { environment?: string }>;
    };
    assert.equal(manifest.artifacts.ElasticEtcd?.environment, 'aws://unknown-account/unknown-region');
    const cliVersion = await run('npx', ['cdk', '--version'], 60_000);
    assert.match(cliVersion.output, /^2\./m, 'the CLI is pinned to a 2.x release');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
