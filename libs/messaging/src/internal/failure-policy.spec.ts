import { QueryFailedError } from 'typeorm';
import { InvalidMessageError, MessageTimedOutError, PermanentMessageError } from '../errors';
import { classifyFailure, deadLetterHeaders, timeoutSqlState } from './failure-policy';

const pgError = (code: string, message = 'pg'): Error => Object.assign(new Error(message), { code });

describe('classifyFailure', () => {
  it.each([
    ['a permanent message error', new PermanentMessageError('seller closed'), 'message'],
    ['an invalid message', new InvalidMessageError('not JSON'), 'message'],
    ['a lock timeout inside a TypeORM error', new QueryFailedError('UPDATE x', [], pgError('55P03')), 'infrastructure'],
    ['a terminated session', pgError('57P01', 'terminating connection due to administrator command'), 'infrastructure'],
    ['a database closed to connections', pgError('55000', 'database "x" is not currently accepting connections'), 'infrastructure'],
    ['a connection reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'infrastructure'],
    ['a dropped pool connection', new Error('Connection terminated unexpectedly'), 'infrastructure'],
    ['a partner call refused by an open breaker', Object.assign(new Error('open'), { code: 'DOWNSTREAM.CIRCUIT_OPEN' }), 'infrastructure'],
    ['a partner call refused by a full bulkhead', Object.assign(new Error('full'), { code: 'DOWNSTREAM.BULKHEAD_FULL' }), 'infrastructure'],
    ['a partner that answered 5xx', Object.assign(new Error('503'), { code: 'DOWNSTREAM.UPSTREAM_ERROR' }), 'handler'],
    ['a unique violation', new QueryFailedError('INSERT x', [], pgError('23505')), 'handler'],
    ['a plain error', new Error('boom'), 'handler'],
  ])('When the failure is %s, then it is %s', (_what, error, kind) => {
    expect(classifyFailure(error)).toBe(kind);
  });
});

describe('timeoutSqlState', () => {
  it.each([
    ['a lock timeout inside a TypeORM error', new QueryFailedError('SELECT x FOR UPDATE', [], pgError('55P03')), '55P03'],
    ['a statement timeout', pgError('57014', 'canceling statement due to statement timeout'), '57014'],
    ['a terminated session', pgError('57P01'), undefined],
    ['a dropped pool connection', new Error('Connection terminated unexpectedly'), undefined],
    ['a deadlock', pgError('40P01'), undefined],
  ])('When the failure is %s, then the timeout charged to the message is %s', (_what, error, sqlState) => {
    expect(timeoutSqlState(error)).toBe(sqlState);
  });
});

describe('deadLetterHeaders', () => {
  it('When a message timed out on every try, then its dead letter says timed-out with the SQLSTATE', () => {
    const headers = deadLetterHeaders(new MessageTimedOutError('55P03', 3, pgError('55P03', 'canceling statement due to lock timeout')), 3, 'group');
    expect(headers).toMatchObject({ 'x-dlq-reason': 'timed-out', 'x-dlq-error-code': 'MESSAGE.TIMED_OUT', 'x-dlq-attempts': '3' });
    expect(headers['x-dlq-error-message']).toBe(
      'lock timeout (SQLSTATE 55P03) on 3 tries while the database answered a probe: canceling statement due to lock timeout',
    );
  });
});
