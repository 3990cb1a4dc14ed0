// The installed form: `npm run build` compiles the CLI, and the `bin` entry of package.json runs with plain
// node (no tsx): --help exits 0, a usage error exits 2 with stdout empty.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { REPO_ROOT, runCli } from './cli-support.js';

function npmRunBuild(): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile('npm', ['run', 'build'], { cwd: REPO_ROOT, timeout: 240_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, output: `${stdout}${stderr}` });
    });
  });
}

describe('the built bin entry', () => {
  test('npm run build, then the bin runs --help and rejects a bad flag', { timeout: 300_000 }, async () => {
    const built = await npmRunBuild();
    assert.equal(built.code, 0, built.output);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
    const bin = join(REPO_ROOT, pkg.bin['elastic-etcd'] ?? '');
    assert.match(readFileSync(bin, 'utf8'), /^#!\/usr\/bin\/env node\n/);

    const help = await runCli(['--help'], { command: [process.execPath, bin] });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^elastic-etcd - /);
    // `npx elastic-etcd` in the project resolves the same bin entry.
    const npx = await runCli(['--offline', 'elastic-etcd', '--help'], { command: ['npx'] });
    assert.equal(npx.code, 0, npx.stderr);
    assert.equal(npx.stdout, help.stdout);
    const usage = await runCli(['-name=n1', '-bogus'], { command: [process.execPath, bin] });
    assert.equal(usage.code, 2);
    assert.equal(usage.stdout, '');
    assert.match(usage.stderr, /^elastic-etcd: unknown option -bogus; run elastic-etcd --help for usage\n$/);
  });
});
