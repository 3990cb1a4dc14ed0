#!/usr/bin/env node
// The `elastic-etcd` executable. Output is buffered and written once at the end, so a failed run leaves
// stdout empty even when it is redirected straight into a systemd drop-in.
import { realpathSync } from 'node:fs';
import { main } from './run.js';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort(new Error(`interrupted by ${signal}`)));
}

const script = process.argv[1];
const exitCode = await main(process.argv.slice(2), process.env, {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  // execArgv keeps loaders such as `--import tsx` when run from source.
  selfCommand: [process.execPath, ...process.execArgv, ...(script === undefined ? [] : [realpathSync(script)])],
  signal: controller.signal,
});
process.exitCode = exitCode;
