// The end-to-end suite (`make test-e2e`, and a step of `make test`): every
// service started by deploy/local/services on free ports, against the real
// local servers, read back through Jaeger's query API.
const path = require('node:path');

module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'e2e',
  rootDir: path.resolve(__dirname, '../..'),
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.e2e-spec.ts'],
  testTimeout: 300_000,
};
