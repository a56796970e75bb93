// ESLint flat config. The layering rule is the important one: src/core and webview/ never
// import 'vscode' (core is pure and runs in plain Node and the CLI; webviews run in a browser).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', 'artifacts/**', '.vscode-test/**', '.lwb-demo/**', 'sample/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports', disallowTypeAnnotations: false }],
      eqeqeq: ['error', 'always'],
      'no-throw-literal': 'error',
    },
  },
  {
    files: ['src/core/**/*.ts', 'src/cli/**/*.ts', 'src/workers/**/*.ts', 'webview/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'src/core, the CLI, workers and webviews must not depend on the VS Code API.' }],
          patterns: [{ group: ['**/features/**', '**/platform/**', '**/extension'], message: 'core must not import the VS Code adapters.' }],
        },
      ],
    },
  },
  {
    files: ['src/extension.ts', 'src/features/**/*.ts', 'src/platform/**/*.ts'],
    rules: {
      // native modules are loaded only in workers, never in the extension host
      'no-restricted-imports': ['error', { paths: ['sharp', 'onnxruntime-node'] }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['console', 'process', 'fetch', 'URL', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Buffer', 'performance', 'AbortController', 'TextDecoder', 'TextEncoder', 'structuredClone', 'queueMicrotask', 'globalThis'].map((g) => [g, 'readonly']),
      ),
    },
    // plain JavaScript has no compiler to catch a name that is not defined (as a test once did)
    rules: { 'no-undef': 'error' },
  },
  {
    // functions passed to page.evaluate() run in the browser
    files: ['test/e2e/**/*.mjs'],
    languageOptions: { globals: { document: 'readonly', window: 'readonly' } },
  },
);
