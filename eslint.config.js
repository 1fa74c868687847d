import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.build/**', 'data/**', 'db/migrations/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // The dashboard's modules run in the browser (no build step): only the browser globals it uses.
    files: ['web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: Object.fromEntries(['window', 'document', 'location', 'fetch', 'setTimeout', 'clearTimeout', 'addEventListener', 'removeEventListener', 'URLSearchParams', 'URL', 'Intl', 'console'].map((g) => [g, 'readonly'])),
    },
  },
  {
    // Tests read JSON answers whose shape is what they assert.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // DESIGN.md's import table, one block per folder. A relative import that climbs out of the folder
  // into one of the named top-level folders is refused; what a folder may import is everything else.
  ...layer('core', ['connectors', 'engine', 'db', 'activities', 'workflows', 'api', 'runtime', 'cli', 'test', 'bench'], 'core/ is pure domain code: it imports nothing of ours'),
  ...layer('connectors', ['engine', 'db', 'activities', 'workflows', 'api', 'runtime', 'cli', 'test', 'bench'], 'connectors import core/ only'),
  ...layer('engine', ['activities', 'workflows', 'api', 'runtime', 'cli', 'test', 'bench'], 'engine/ imports core/, connectors/ and db/ only'),
  ...layer('db', ['connectors', 'engine', 'activities', 'workflows', 'api', 'runtime', 'cli', 'test', 'bench'], 'db/ imports core/ only'),
  ...layer('activities', ['workflows', 'api', 'runtime', 'cli', 'test', 'bench'], 'activities import core/, engine/, connectors/ and db/ only'),
  // The API reads connector definitions (config schemas, secret fields) from the registry and the
  // contract's types; it never opens a connector (that happens on a worker, in an activity). The
  // OAuth connect flow (authorization links, the code exchange) is the one provider call it makes.
  ...layer('api', ['engine', 'activities', 'runtime', 'cli', 'test', 'bench'], 'api/ imports core/, db/ and the Temporal client', {
    typeOnly: ['workflows', 'activities'],
    allowConnectors: ['registry', 'types', 'oauthConnect'],
  }),
  // runtime/ wires everything, the API app included; only cli/ is above it.
  ...layer('runtime', ['cli', 'test', 'bench'], 'runtime/ may import everything but cli/'),
  ...layer('metrics', ['core', 'connectors', 'engine', 'db', 'activities', 'workflows', 'api', 'runtime', 'cli', 'test', 'bench'], 'metrics/ holds the Prometheus registry and imports nothing of ours'),
  ...layer('cli', ['connectors', 'engine', 'db', 'activities', 'workflows', 'api', 'test', 'bench'], 'cli/ imports runtime/ and core/'),
  {
    // A connector is one folder: it reaches another connector's folder only through the registry.
    files: ['connectors/*/**/*.ts'],
    ignores: ['connectors/shared/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { regex: '^(\\.\\./)+(engine|db|activities|workflows|api|runtime|cli|test|bench)(/|$)', message: 'connectors import core/ only' },
          { regex: '^\\.\\./(registry\\.js$|(?!shared/)[^./][^/]*/)', message: "a connector imports only its own folder, connectors/shared/ and the contract, never another connector's folder or the registry" },
        ],
      }],
    },
  },
  {
    // Workflows are replayed deterministically in a sandbox: no Node built-ins, no activity code.
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'crypto', 'http', 'https', 'net', 'path', 'stream'], message: 'workflow code cannot use Node built-ins' },
          { regex: '^(\\.\\./)+(activities|connectors|db|engine)(/|$)', message: 'workflows import core/ and activity types only (import type)', allowTypeImports: true },
          { regex: '^(\\.\\./)+(api|runtime|cli|test|bench|metrics)(/|$)', message: 'workflows import core/ and activity types only' },
        ],
      }],
    },
  },
);

/**
 * One folder's block of `no-restricted-imports`: relative imports reaching `forbidden` folders are
 * errors; `typeOnly` folders may be imported with `import type`; `allowConnectors` names the only
 * modules of connectors/ the folder may import (connectors/ is otherwise forbidden).
 */
function layer(folder, forbidden, message, opts = {}) {
  const typeOnly = opts.typeOnly ?? [];
  const hard = forbidden.filter((f) => !typeOnly.includes(f));
  const patterns = [{ regex: `^(\\.\\./)+(${hard.join('|')})(/|$)`, message }];
  if (typeOnly.length) patterns.push({ regex: `^(\\.\\./)+(${typeOnly.join('|')})(/|$)`, message: `${message} (types only: import type)`, allowTypeImports: true });
  if (opts.allowConnectors) {
    const allowed = opts.allowConnectors.map((m) => `${m}\\.js$`).join('|');
    patterns.push({ regex: `^(\\.\\./)+connectors/(?!(${allowed}))`, message: `${message}; from connectors/ only ${opts.allowConnectors.join(', ')}` });
  }
  return [{ files: [`${folder}/**/*.ts`], rules: { 'no-restricted-imports': ['error', { patterns }] } }];
}
