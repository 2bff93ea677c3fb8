import { isDatabaseBusy, isDatabaseUnavailable } from './database.errors';
import { migrationLockId } from './data-source';

describe('isDatabaseUnavailable', () => {
  it("When pg-pool gives up waiting for a connection, or the socket is refused or reset, then it counts as 'unavailable'", () => {
    expect(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }))).toBe(true);
  });

  it('When a query itself fails (a constraint, a lock timeout, a syntax error), then it is not: the caller handles it', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }))).toBe(false);
    expect(isDatabaseUnavailable('not an error')).toBe(false);
  });
});

describe('isDatabaseBusy', () => {
  it('When a transaction was rolled back for a lock timeout, a deadlock or a serialization conflict (TypeORM wraps the driver error), then it is busy', () => {
    expect(isDatabaseBusy(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }))).toBe(true);
    expect(isDatabaseBusy(Object.assign(new Error('QueryFailedError'), { driverError: { code: '40P01' } }))).toBe(true);
    expect(isDatabaseBusy(Object.assign(new Error('could not serialize access'), { code: '40001' }))).toBe(true);
  });

  it('When a statement ran past statement_timeout or broke a constraint, then it is not busy: retrying the same request would fail the same way', () => {
    expect(isDatabaseBusy(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' }))).toBe(false);
    expect(isDatabaseBusy(Object.assign(new Error('duplicate key value'), { code: '23505' }))).toBe(false);
    expect(isDatabaseBusy('not an error')).toBe(false);
  });
});

describe('migrationLockId', () => {
  it('When two services migrate, then they take different advisory locks, each always the same', () => {
    expect(migrationLockId('order')).toBe(migrationLockId('order'));
    expect(migrationLockId('order')).not.toBe(migrationLockId('points'));
    expect(Number.isInteger(migrationLockId('order'))).toBe(true);
  });
});
