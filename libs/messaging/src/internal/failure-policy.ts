import { errorChain, isQueryTimeout, sqlState } from '@conveyor/persistence';
import type { DataSource } from 'typeorm';
import { DeadLetterHeaders, InvalidMessageError, MessageTimedOutError, PermanentMessageError } from '../errors';
import { errorMessage } from './backoff';

/**
 * What a consumer does with a message whose handler failed:
 * - `message`: the message itself is wrong (a {@link PermanentMessageError},
 *   an {@link InvalidMessageError} included): dead-lettered at once.
 * - `infrastructure`: something the message does not cause and a later try
 *   fixes (database down or restarting, connection reset, lock or
 *   serialization timeout, a partner call refused before sending by its
 *   breaker or bulkhead): retried with capped back-off for as long as it
 *   lasts, never dead-lettered, offset not committed. A short outage must not
 *   fill the dead-letter queue with good messages. One exception: a statement
 *   or lock timeout while the database answers a probe
 *   ({@link timeoutOfTheMessage}) is the message's own; after a bounded
 *   number of those it is dead-lettered ({@link MessageTimedOutError}).
 * - `handler`: anything else: retried until the attempts run out, then
 *   dead-lettered.
 */
export type FailureKind = 'message' | 'infrastructure' | 'handler';

/** The one mapping from a handler's failure to a {@link FailureKind}, shared by the Kafka and RabbitMQ consumers. */
export function classifyFailure(error: unknown): FailureKind {
  if (error instanceof PermanentMessageError) return 'message';
  return isInfrastructureFailure(error) || wasNotSent(error) ? 'infrastructure' : 'handler';
}

/*
 * A partner call refused before it was sent (libs/resilience: breaker open,
 * bulkhead full): the message was not tried, so it must not use up an attempt.
 * A partner outage longer than the delay queues would otherwise dead-letter
 * every good message behind it. Matched by code, the stable contract.
 */
const NOT_SENT_CODES = new Set(['DOWNSTREAM.CIRCUIT_OPEN', 'DOWNSTREAM.BULKHEAD_FULL']);
const wasNotSent = (error: unknown): boolean => NOT_SENT_CODES.has(String((error as { code?: unknown } | null)?.code));

/** True for a failure that dead-letters at once. */
export function isPermanentFailure(error: unknown): boolean {
  return classifyFailure(error) === 'message';
}

/*
 * PostgreSQL SQLSTATEs that say "the database, not this message":
 * class 08 connection exception, 53 insufficient resources, 57P01-57P05
 * (admin/crash shutdown, cannot connect now, idle session timeout), 55P03
 * lock_not_available (lock_timeout), 40001/40P01 serialization failure and
 * deadlock, 57014 query_canceled (statement_timeout), 58000/58030 system and
 * I/O errors. 55000 only with "not currently accepting connections" (a
 * database closed to connections); otherwise it is a logic error.
 */
const PG_INFRASTRUCTURE = /^(08|53|57P0[1-5]$|55P03$|40001$|40P01$|57014$|58000$|58030$)/;
const NODE_NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
// node-postgres reports a dropped or never-made connection without a code.
const DRIVER_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|not currently accepting connections|the database system is (starting up|shutting down)/i;

function isInfrastructureFailure(error: unknown): boolean {
  const state = sqlState(error);
  if (state !== undefined && PG_INFRASTRUCTURE.test(state)) return true;
  for (const link of errorChain(error)) {
    const { code, message } = link as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && NODE_NETWORK.has(code)) return true;
    if (typeof message === 'string' && DRIVER_MESSAGES.test(message)) return true;
  }
  return false;
}

/*
 * statement_timeout (57014) and lock_timeout (55P03): infrastructure failures
 * while the database is down or overloaded, but also what one message causes
 * on every try when its handler's query is too slow or waits on a row some
 * other transaction holds for good. Only these are ever charged to the message.
 */

/** The SQLSTATE when `error` is (or wraps) a statement or lock timeout; else undefined. */
export function timeoutSqlState(error: unknown): string | undefined {
  return isQueryTimeout(error) ? sqlState(error) : undefined;
}

/**
 * Whether an infrastructure failure is the message's own doing: a statement
 * or lock timeout while the database answers a probe query (a pooled
 * connection and `SELECT 1`, bounded by the pool's wait and the statement
 * timeout). A timeout while the probe fails too, and every connection-level
 * failure, is an outage: never charged to the message. Returns the SQLSTATE
 * to charge, or undefined.
 */
export async function timeoutOfTheMessage(error: unknown, dataSource: DataSource): Promise<string | undefined> {
  const sqlState = timeoutSqlState(error);
  if (sqlState === undefined) return undefined;
  try {
    await dataSource.query('SELECT 1');
    return sqlState;
  } catch {
    return undefined;
  }
}

/** The headers a dead letter carries about its failure (plus the source's own, added by each consumer). */
export function deadLetterHeaders(error: unknown, attempts: number, consumer: string): Record<string, string> {
  const code = error instanceof PermanentMessageError ? error.code : ((error as { code?: unknown })?.code?.toString() ?? 'MESSAGE.HANDLER_FAILED');
  return {
    [DeadLetterHeaders.reason]: error instanceof InvalidMessageError ? 'invalid' : error instanceof MessageTimedOutError ? 'timed-out' : 'failed',
    [DeadLetterHeaders.errorCode]: code,
    [DeadLetterHeaders.errorMessage]: errorMessage(error).slice(0, 2_000),
    [DeadLetterHeaders.attempts]: String(attempts),
    [DeadLetterHeaders.failedAt]: new Date().toISOString(),
    [DeadLetterHeaders.consumer]: consumer,
  };
}
