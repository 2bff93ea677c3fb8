import nx from '@nx/eslint-plugin';

// Module boundaries, enforced as errors:
// - a service (scope:<name>) may use only its own code and shared libs, so
//   services never import each other;
// - libs never import services (type:app);
// - test helpers (type:testing) are for tests only, never for runtime code.
const scopes = ['provider-sim', 'order', 'points', 'notification', 'search'];
const runtimeTypes = ['type:util', 'type:data-access', 'type:contracts'];

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
        { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util', ...testing] },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: [...runtimeTypes, 'type:testing'] },
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
];
