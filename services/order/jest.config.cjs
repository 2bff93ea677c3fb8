module.exports = { ...require('../../jest.preset.cjs'), displayName: 'order', rootDir: __dirname };
