// Lint rules: the typed recommended set, strict about `any` and floating promises,
// because an unawaited membership change is exactly the kind of bug this tool exists to prevent.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'cdk.out/', 'node_modules/', 'coverage/', '.tmp/', 'bench/results/', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Classic zod (and `zod/mini`'s `z` object) carries all of zod, locales and JSON Schema included, into the
      // Lambda bundle; src/adapters/zod.ts is zod/mini with English messages, imported as a namespace so that
      // esbuild keeps only what is used (test/infra/bundle.test.ts holds the bundle under 1 MiB).
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^zod(/.*)?$',
              message: "import * as z from 'src/adapters/zod.js' (zod/mini with English messages) instead",
            },
          ],
        },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: false, allowAny: false },
      ],
    },
  },
  // The one module that imports zod itself.
  { files: ['src/adapters/zod.ts'], rules: { 'no-restricted-imports': 'off' } },
);
