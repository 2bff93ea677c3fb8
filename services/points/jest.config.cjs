module.exports = { ...require('../../jest.preset.cjs'), displayName: 'points', rootDir: __dirname };
