import { isReplicaFault, parseLsn } from './read-router';

describe('parseLsn', () => {
  it('When an LSN is given as PostgreSQL prints it, then it becomes its byte position', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/3000028')).toBe(0x3000028n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
  });

  it('When two LSNs are compared, then the order is the WAL order (the high half counts first)', () => {
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
  });

  it('When the text is not an LSN, then it is refused', () => {
    expect(() => parseLsn('')).toThrow('not an LSN');
    expect(() => parseLsn('12')).toThrow('not an LSN');
    expect(() => parseLsn('0/XYZ')).toThrow('not an LSN');
  });
});

describe('isReplicaFault', () => {
  const pgError = (code: string): Error => Object.assign(new Error(`pg ${code}`), { code });

  it('When the replica cannot be reached or cancels a read for recovery, then the read may run on the primary', () => {
    expect(isReplicaFault(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isReplicaFault(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isReplicaFault(pgError('57P01'))).toBe(true); // admin shutdown
    expect(isReplicaFault(pgError('40001'))).toBe(true); // conflict with recovery
    expect(isReplicaFault(pgError('3D000'))).toBe(true); // database not replayed yet
  });

  it('When the query itself is wrong, then it is not a replica fault (the primary would refuse it too)', () => {
    expect(isReplicaFault(pgError('42P01'))).toBe(false);
    expect(isReplicaFault(pgError('22P02'))).toBe(false);
  });
});
