// StrykerJS: mutation testing of the safety-critical code against the fast tests (test/unit, no etcd).
// `npm run mutation` runs it all; `npm run mutation:ci` (scripts/mutation-ci.sh) runs the core, incrementally,
// as CI does. What each surviving mutant is (equivalent, with the reason) is in mutation/README.md.
// Reports: reports/mutation/index.html and mutation.json (git-ignored).
//
// Runner: the TAP runner. Our tests use Node's own runner (node:test), which prints TAP; the TAP runner runs each
// test file in its own `node` process, so the tests run exactly as `npm test` runs them, with no second test
// framework. To Stryker each file is one test, so coverage analysis picks the files that reach a mutant.

// One property seed instead of six: the table tests are meant to kill the mutants; the properties back them up.
process.env.PROPERTY_SEEDS ??= '1';

/** The scoped decision code of services and Lambda: join markers, quorum-guarded removal, the hold, duplicates. */
export const DECISION_CODE = ['src/services/observe.ts', 'src/lambda/members.ts', 'src/lambda/terminate.ts'];

/** Fast test files, the pure core's own first (a mutant stops at the first file that kills it). */
export const CORE_TESTS = [
  'test/unit/planner-holes.test.ts',
  'test/unit/planner.test.ts',
  'test/unit/membership.test.ts',
  'test/unit/core-urls-ids.test.ts',
  'test/unit/render.test.ts',
  'test/unit/planner-properties.test.ts',
];
export const DECISION_TESTS = ['test/unit/observe-markers.test.ts', 'test/unit/lambda-terminate-fast.test.ts'];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'tap',
  tap: {
    testFiles: [...CORE_TESTS, ...DECISION_TESTS],
    // The file runs directly (not under --test, whose extra child process Stryker could not see).
    nodeArgs: ['-r', '{{hookFile}}', '--import', 'tsx', '--test-reporter=tap', '{{testFile}}'],
    forceBail: true,
  },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutator: {
    // Message wording is not a decision: string mutants are left out (they would only show which messages no test
    // quotes). Typed literals (refusal codes, cluster states) are guarded by the type checker anyway.
    excludedMutations: ['StringLiteral'],
  },
  mutate: ['src/core/**/*.ts', ...DECISION_CODE],
  ignorePatterns: ['dist', 'cdk.out', 'infra/cdk.out', 'bench/results', '.tmp', 'reports'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  incrementalFile: 'mutation/incremental.json',
  concurrency: 3,
  timeoutMS: 20000,
  // CI fails below `break`. Every core mutant is killed or listed as equivalent in mutation/README.md.
  thresholds: { high: 95, low: 90, break: 90 },
  tempDirName: '.tmp/stryker',
  cleanTempDir: true,
};
