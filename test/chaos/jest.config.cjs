// `make test-chaos`: long fault scenarios against the real local servers.
// Each lives beside the code it exercises as `<project>/test/*.chaos-spec.ts`,
// so it shares that project's test helpers; the default suite never runs them.
const path = require('node:path');

module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'chaos',
  rootDir: path.resolve(__dirname, '../..'),
  roots: ['<rootDir>/libs', '<rootDir>/services', '<rootDir>/test'],
  testMatch: ['**/test/**/*.chaos-spec.ts', '<rootDir>/test/chaos/**/*.chaos-spec.ts'],
  testTimeout: 600_000,
};
