module.exports = { ...require('../../jest.preset.cjs'), displayName: 'chassis', rootDir: __dirname };
