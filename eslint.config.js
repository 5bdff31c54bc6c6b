import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.cache/**', 'data/**', 'test-output/**', 'src/api/static/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', window: 'readonly', document: 'readonly', fetch: 'readonly', EventSource: 'readonly', WebSocket: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', performance: 'readonly', localStorage: 'readonly', Blob: 'readonly', Image: 'readonly', requestAnimationFrame: 'readonly', FormData: 'readonly', TextDecoder: 'readonly', URLSearchParams: 'readonly', Event: 'readonly', HTMLElement: 'readonly', navigator: 'readonly', location: 'readonly', createImageBitmap: 'readonly' } },
  },
);
