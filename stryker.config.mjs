// StrykerJS: mutation testing of the safety-critical code against the fast tests (test/unit, no etcd).
// `npm run mutation` runs it; the notes on every surviving mutant (equivalent, with the reason) are in
// MUTATION.md beside this file. Reports go to reports/mutation/ (git-ignored).
//
// Runner: the TAP runner. Our tests use Node's own runner (node:test), which prints TAP; the TAP runner runs each
// test file in its own `node` process, so the tests stay exactly as `npm test` runs them (no second framework).
// Each file is one "test" to Stryker, so coverage analysis picks the files that reach a mutant, not single tests.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'tap',
  tap: {
    testFiles: ['test/unit/*.test.ts'],
    // Run the file directly (not under --test, which would start a second process that Stryker cannot see).
    nodeArgs: ['-r', '{{hookFile}}', '--import', 'tsx', '--test-reporter=tap', '{{testFile}}'],
    forceBail: true,
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    'src/core/**/*.ts',
  ],
  ignorePatterns: ['dist', 'cdk.out', 'bench/results', '.tmp', 'reports', 'infra/cdk.out'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  timeoutMS: 20000,
  thresholds: { high: 95, low: 90, break: 90 },
  tempDirName: '.tmp/stryker',
  cleanTempDir: true,
};
