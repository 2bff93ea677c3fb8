import nx from '@nx/eslint-plugin';
import { readFileSync } from 'node:fs';
import * as jsoncParser from 'jsonc-eslint-parser';
import { projectTagsRule } from './tools/eslint/project-tags.mjs';

// Module boundaries, enforced as errors:
// - a service (scope:<name>) may use only its own code and shared libs, so
//   services never import each other;
// - libs never import services (type:app);
// - util libs may use contracts (names and schemas only: libs/config takes
//   its topic and exchange defaults from libs/contracts);
// - test helpers (type:testing) are for tests only, never for runtime code;
// - tooling (type:tooling, the Nx generators) runs at development time only:
//   it may use util libs, and nothing at runtime may import it.
// One scope per service of services/registry.json (tools/registry.mjs --check checks the rules built from it).
const registry = JSON.parse(readFileSync(new URL('./services/registry.json', import.meta.url), 'utf8'));
const scopes = registry.services.map((service) => service.name);
const runtimeTypes = ['type:util', 'type:data-access', 'type:contracts'];
const types = ['type:app', ...runtimeTypes, 'type:testing', 'type:tooling'];

function boundaries({ allowTesting }) {
  const testing = allowTesting ? ['type:testing'] : [];
  return [
    'error',
    {
      enforceBuildableLibDependency: true,
      allow: [],
      depConstraints: [
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
        ...scopes.map((scope) => ({
          sourceTag: `scope:${scope}`,
          onlyDependOnLibsWithTags: ['scope:shared', `scope:${scope}`],
        })),
        { sourceTag: 'type:app', onlyDependOnLibsWithTags: [...runtimeTypes, ...testing] },
        { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: [...runtimeTypes, ...testing] },
        { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: ['type:contracts', ...testing] },
        { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util', 'type:contracts', ...testing] },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: [...runtimeTypes, 'type:testing'] },
        { sourceTag: 'type:tooling', onlyDependOnLibsWithTags: ['type:util', 'type:tooling', ...testing] },
      ],
    },
  ];
}

const testFiles = ['**/*.spec.ts', '**/*.int-spec.ts', '**/test/**/*.ts'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '.cache', '.run', '.nx', 'tmp'] },
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries({ allowTesting: false }),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: testFiles,
    rules: { '@nx/enforce-module-boundaries': boundaries({ allowTesting: true }) },
  },
  // Every project is tagged with a scope and a type these rules know: an untagged project fails lint.
  {
    files: ['**/project.json'],
    languageOptions: { parser: jsoncParser },
    plugins: { conveyor: { rules: { 'project-tags': projectTagsRule({ scopes, types }) } } },
    rules: { 'conveyor/project-tags': 'error' },
  },
];
