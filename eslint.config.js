// The linter npm test runs. typescript-eslint's recommended rules, plus the type-aware rules that catch
// the bugs a long-running hub cannot afford: a promise nobody awaits or catches (an unhandled rejection
// ends the process), and a promise passed where a callback's result is ignored.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'contrib/**', 'bench/minimal-forwarder.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test's test() returns a promise the runner itself awaits.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }] }],
      // A leading underscore marks a value kept for its position or to leave it out of a rest (tsc agrees).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A closure made before the value exists reads it later (`let hubRef; … () => hubRef; … hubRef = hub`).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // The SQL lexer and the identifier checks match control characters on purpose, to refuse them.
      'no-control-regex': 'off',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs'],
    // bin/snowmux.js is CommonJS on purpose (the shim's start-up time).
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: { globals: { process: 'readonly', require: 'readonly', __dirname: 'readonly', module: 'writable', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' } },
  },
);
