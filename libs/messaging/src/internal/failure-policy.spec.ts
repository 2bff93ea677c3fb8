import { QueryFailedError } from 'typeorm';
import { InvalidMessageError, PermanentMessageError } from '../errors';
import { classifyFailure } from './failure-policy';

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
