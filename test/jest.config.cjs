// The system-tests project's unit tests (`nx test system-tests`, in `make test`):
// the contract inventory and the AsyncAPI document (test/contracts), and the
// join-type check over every service's migrated schema (test/schema), and the
// benchmarks' pure helpers (test/bench/**/*.spec.ts). The
// suites that start the whole system have their own configs (e2e/, chaos/).
const path = require('node:path');

module.exports = {
  ...require('../jest.preset.cjs'),
  displayName: 'system-tests',
  rootDir: path.resolve(__dirname, '..'),
  roots: ['<rootDir>/test/contracts', '<rootDir>/test/schema', '<rootDir>/test/bench'],
  testMatch: ['**/*.spec.ts', '**/*.int-spec.ts'],
};
