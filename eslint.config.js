import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Module boundaries (README "Code layout"): which folders of ours each folder
// may not import. A relative import that climbs out of a leaf folder is ours.
const ours = (folder) => `^(\\.\\./)+${folder}/`;
const leaf = { regex: '^\\.\\./', message: 'this folder is a leaf: it imports nothing of ours' };
const forbid = (...folders) =>
  folders.map((folder) => ({ regex: ours(folder), message: `must not import src/${folder} (see README "Code layout")` }));
const boundaries = {
  frames: [leaf],
  config: [leaf],
  contracts: [leaf],
  lib: [leaf],
  ingest: forbid('engine', 'api', 'app'),
  engine: forbid('api', 'app'),
  models: forbid('engine', 'api', 'app'),
  telemetry: forbid('api', 'engine', 'ingest', 'app'),
  // Cluster coordination knows Redis, config, contracts and lib; the app wires it to cameras and the API.
  cluster: forbid('api', 'app', 'engine', 'ingest', 'capture', 'models', 'frames', 'telemetry'),
};

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
  ...Object.entries(boundaries).map(([folder, patterns]) => ({
    files: [`src/${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', { patterns }] },
  })),
);
