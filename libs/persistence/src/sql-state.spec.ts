import { QueryFailedError } from 'typeorm';
import { errorChain, isQueryTimeout, isSerializationFailure, isUniqueViolation, returnedRows, sqlState } from './sql-state';

/** What node-postgres throws: an Error with the SQLSTATE as `code` and the constraint's name. */
const pgError = (code: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(`pg ${code}`), { code, ...fields });
/** What TypeORM throws around it. */
const typeormError = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('sqlState', () => {
  it('When the error is node-postgres’s, TypeORM’s around it, or wrapped as a cause, then the SQLSTATE is read from each', () => {
    const pg = pgError('40P01');
    expect(sqlState(pg)).toBe('40P01');
    expect(sqlState(typeormError(pg))).toBe('40P01');
    expect(sqlState({ driverError: pg })).toBe('40P01');
    expect(sqlState(new Error('retry gave up', { cause: typeormError(pg) }))).toBe('40P01');
  });

  it('When the error carries no SQLSTATE (a Node socket code, a DomainError code, nothing), then undefined', () => {
    expect(sqlState(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBeUndefined();
    expect(sqlState(Object.assign(new Error('x'), { code: 'DATABASE.UNAVAILABLE' }))).toBeUndefined();
    expect(sqlState(new Error('plain'))).toBeUndefined();
    expect(sqlState(undefined)).toBeUndefined();
    expect(sqlState('23505')).toBeUndefined();
  });

  it('When causes form a cycle, then the walk ends', () => {
    const a: { cause?: unknown } = {};
    const b = { cause: a };
    a.cause = b;
    expect(sqlState(a)).toBeUndefined();
    expect([...errorChain(a)]).toEqual([a, b]);
  });
});

describe('isUniqueViolation', () => {
  it('When a unique constraint refused the row, then true; with a constraint name, only for that constraint', () => {
    const error = typeormError(pgError('23505', { constraint: 'products_sku_key' }));
    expect(isUniqueViolation(error)).toBe(true);
    expect(isUniqueViolation(error, 'products_sku_key')).toBe(true);
    expect(isUniqueViolation(error, 'products_pkey')).toBe(false);
  });

  it('When another constraint failed (foreign key, check), then false', () => {
    expect(isUniqueViolation(pgError('23503'))).toBe(false);
    expect(isUniqueViolation(pgError('23514'))).toBe(false);
  });
});

describe('isSerializationFailure and isQueryTimeout', () => {
  it.each([
    ['40001', true, false],
    ['40P01', true, false],
    ['57014', false, true],
    ['55P03', false, true],
    ['23505', false, false],
    ['57P01', false, false],
  ])('When the SQLSTATE is %s, then serialization failure %s and query timeout %s', (code, serialization, timeout) => {
    expect(isSerializationFailure(typeormError(pgError(code)))).toBe(serialization);
    expect(isQueryTimeout(typeormError(pgError(code)))).toBe(timeout);
  });
});

describe('returnedRows', () => {
  it('When TypeORM answers UPDATE/DELETE … RETURNING as [rows, count], then the rows', () => {
    expect(returnedRows<{ id: number }>([[{ id: 1 }, { id: 2 }], 2])).toEqual([{ id: 1 }, { id: 2 }]);
    expect(returnedRows([[], 0])).toEqual([]);
  });

  it('When it answers INSERT … RETURNING or SELECT as the rows themselves, then those rows', () => {
    expect(returnedRows<{ id: number }>([{ id: 1 }, { id: 2 }])).toEqual([{ id: 1 }, { id: 2 }]);
    expect(returnedRows([])).toEqual([]);
  });

  it('When the result is not an array, then a TypeError (a query without RETURNING misused)', () => {
    expect(() => returnedRows(undefined)).toThrow(TypeError);
  });
});
