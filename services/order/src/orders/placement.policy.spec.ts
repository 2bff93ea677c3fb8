import { commitCertainlyFailed, placementOf } from './placement.policy';

const pgError = (code: string) => Object.assign(new Error(`postgres ${code}`), { code });
/** TypeORM's QueryFailedError shape: the driver's error under `driverError`. */
const queryFailed = (code: string) => Object.assign(new Error('query failed'), { driverError: pgError(code) });

describe('placement policy', () => {
  it('When the payment is decided, then the placement is decided; while its outcome is not known, accepted', () => {
    for (const status of ['PAID', 'FAILED', 'CANCELLED', 'CANCELLING', 'PENDING'] as const) expect(placementOf(status)).toBe('decided');
    for (const status of ['UNKNOWN', 'REQUIRES_ATTENTION'] as const) expect(placementOf(status)).toBe('accepted');
  });

  it('When PostgreSQL itself refused the commit (lock timeout, serialization failure, constraint), then it certainly did not commit', () => {
    for (const code of ['55P03', '40001', '40P01', '23505', '57014']) expect(commitCertainlyFailed(queryFailed(code))).toBe(true);
    expect(commitCertainlyFailed(pgError('55P03'))).toBe(true);
  });

  it('When the connection was lost or the server was shutting down, or no SQLSTATE came back, then the commit may have held', () => {
    for (const code of ['08006', '08003', '57P01', '57P03']) expect(commitCertainlyFailed(queryFailed(code))).toBe(false);
    expect(commitCertainlyFailed(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(false);
    expect(commitCertainlyFailed(new Error('Connection terminated unexpectedly'))).toBe(false);
  });
});
