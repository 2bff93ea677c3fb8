// `make test-chaos`: long fault scenarios against the real local servers.
module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'chaos',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.chaos-spec.ts'],
  testTimeout: 600_000,
};
