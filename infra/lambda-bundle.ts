// The Lambda bundle: one set of esbuild options, used by the construct (through CDK's local bundling) and by
// `npm run bench`, so the bench measures exactly what is deployed. Run as a script it bundles one entry:
//   node --import tsx infra/lambda-bundle.ts <entry.ts> <output dir>
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';

const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);

/** The file the bundle's handler lives in; the function's handler is `index.handler`. */
export const LAMBDA_BUNDLE_FILE = 'index.mjs';

/**
 * Makes the AWS SDK's schema modules tree-shakable. Each client keeps every operation's schema in one module
 * (`dist-es/schemas/schemas_0.js`: 1.3 MB for EC2) whose arrays use computed keys such as `{ [_xN]: _m }`, with
 * `_xN` a module-level string constant. esbuild must assume a computed key may run code (`toString`), so it keeps
 * every schema although the Lambda sends one EC2 command. Writing each such key as the string literal it names
 * changes no value and lets esbuild drop the unused schemas (EC2: 550 KiB to 30 KiB). A key whose name is not a
 * string constant of the module is left as it is: the output is then larger, never different.
 */
export const inlineSdkSchemaKeys: Plugin = {
  name: 'inline-sdk-schema-keys',
  setup(bundle) {
    bundle.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const strings = new Map<string, string>();
      for (const [, name, literal] of source.matchAll(/^const (_\w+) = ("(?:[^"\\\n]|\\.)*");$/gm)) {
        if (name !== undefined && literal !== undefined) strings.set(name, literal);
      }
      const contents = source.replace(/\[(_\w+)\]:/g, (key: string, name: string) => {
        const literal = strings.get(name);
        return literal === undefined ? key : `${literal}:`;
      });
      return { contents, loader: 'js' };
    });
  },
};

/**
 * esbuild's options for the Lambda: ESM for node22, minified with an external source map, every dependency
 * inside (the AWS SDK too: the versions pinned in package-lock.json, not whatever the runtime ships).
 */
export const LAMBDA_BUNDLE_OPTIONS = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: true,
  // The licence texts of the bundled packages go to index.mjs.LEGAL.txt beside the bundle (part of the same asset,
  // named by a comment at the end of index.mjs) instead of being parsed on every cold start.
  legalComments: 'linked',
  mainFields: ['module', 'main'],
  absWorkingDir: PROJECT_ROOT,
  // Some dependencies still call require(); ESM output has none unless we make one.
  banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
  alias: {
    // axios reaches the `form-data` package (and its 130 KiB MIME database) for multipart bodies, which this
    // Lambda never sends; Node's own FormData is what axios itself prefers when the runtime has one.
    'form-data': fileURLToPath(new URL('./lambda-bundle-form-data.ts', import.meta.url)),
    // Debug logging that only the DEBUG variable turns on: about 10 KiB with its colour detection.
    debug: fileURLToPath(new URL('./lambda-bundle-debug.cjs', import.meta.url)),
    // The SDK's default credential chain, of which a Lambda function only ever uses the environment's link.
    '@aws-sdk/credential-provider-node': fileURLToPath(new URL('./lambda-bundle-credentials.ts', import.meta.url)),
  },
  plugins: [inlineSdkSchemaKeys],
  logLevel: 'error',
} as const satisfies BuildOptions;

export interface LambdaBundle {
  /** The bundle's path: `<outdir>/index.mjs`. */
  readonly file: string;
  readonly metafile: Metafile;
}

/** Bundles one entry into `<outdir>/index.mjs` (and its source map) with {@link LAMBDA_BUNDLE_OPTIONS}. */
export async function bundleLambda(entry: string, outdir: string): Promise<LambdaBundle> {
  const file = join(outdir, LAMBDA_BUNDLE_FILE);
  const result = await build({ ...LAMBDA_BUNDLE_OPTIONS, entryPoints: [entry], outfile: file, metafile: true });
  return { file, metafile: result.metafile };
}

/**
 * {@link bundleLambda} for callers that cannot wait for a promise (CDK's local bundling is synchronous): runs
 * this module as a script in a child process. Throws when the bundling fails, with esbuild's messages on stderr.
 */
export function bundleLambdaSync(entry: string, outdir: string): void {
  // Under tsx this module is TypeScript and the child needs tsx too; compiled, it is plain JavaScript.
  const loader = THIS_FILE.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawnSync(process.execPath, [...loader, THIS_FILE, entry, outdir], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (child.error !== undefined) throw child.error;
  if (child.status !== 0) throw new Error(`bundling ${entry} failed (exit ${String(child.status ?? child.signal)})`);
}

if (process.argv[1] === THIS_FILE) {
  const [entry, outdir] = process.argv.slice(2);
  if (entry === undefined || outdir === undefined) {
    process.stderr.write('usage: node --import tsx infra/lambda-bundle.ts <entry> <output dir>\n');
    process.exitCode = 2;
  } else {
    await bundleLambda(entry, outdir);
  }
}
