import { expectFuzzClean, type FuzzRun } from './schemathesis';

describe('expectFuzzClean', () => {
  const clean: FuzzRun = { exitCode: 0, operationsTested: 4, operationsDocumented: 4, generated: 120, passed: 120, output: 'schemathesis says: all good' };
  let log: jest.SpiedFunction<typeof console.log>;

  beforeEach(() => {
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => log.mockRestore());

  it('When the run exited 0, exercised every documented operation and generated requests, then it passes and logs one summary line', () => {
    expectFuzzClean(clean, 'order as a user');
    expect(log.mock.calls).toEqual([['fuzz order as a user: 4 operations, 120 requests generated, 120 passed']]);
  });

  it('When schemathesis exited non-zero, then it fails and schemathesis output is printed', () => {
    expect(() => expectFuzzClean({ ...clean, exitCode: 1, passed: 119 }, 'order')).toThrow();
    expect(log).toHaveBeenCalledWith(clean.output);
  });

  it('When schemathesis was killed (no exit code), then it fails', () => {
    expect(() => expectFuzzClean({ ...clean, exitCode: null }, 'order')).toThrow();
  });

  it('When a documented operation was not exercised, then it fails, unless allOperations is false', () => {
    const partial = { ...clean, operationsTested: 3 };
    expect(() => expectFuzzClean(partial, 'order')).toThrow();
    expect(() => expectFuzzClean(partial, 'order, invalid requests only', { allOperations: false })).not.toThrow();
  });

  it('When no request was generated, or the count could not be read from the output, then it fails, with allOperations false too', () => {
    for (const generated of [0, NaN]) {
      expect(() => expectFuzzClean({ ...clean, generated }, 'order')).toThrow();
      expect(() => expectFuzzClean({ ...clean, generated }, 'order', { allOperations: false })).toThrow();
    }
  });
});
