/**
 * Thrown by a handler (or by the consumer itself) when retrying cannot help:
 * the message goes to the dead-letter destination at once.
 */
export class PermanentMessageError extends Error {
  readonly code: string = 'MESSAGE.PERMANENT_FAILURE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentMessageError';
  }
}

/** The message body is not JSON, or not a valid envelope / event of its type. */
export class InvalidMessageError extends PermanentMessageError {
  override readonly code = 'MESSAGE.INVALID';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InvalidMessageError';
  }
}

/**
 * A message whose handler kept running out of time in the database (statement
 * or lock timeout) while the database answered other work: the message, not
 * an outage, is the cause, so it is dead-lettered after a bounded number of
 * tries instead of stalling its partition forever. `cause` is the last failure.
 */
export class MessageTimedOutError extends PermanentMessageError {
  override readonly code = 'MESSAGE.TIMED_OUT';
  constructor(
    readonly sqlState: string,
    readonly tries: number,
    cause: unknown,
  ) {
    const what = sqlState === '55P03' ? 'lock timeout' : 'statement timeout';
    super(`${what} (SQLSTATE ${sqlState}) on ${tries} tries while the database answered a probe: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'MessageTimedOutError';
  }
}

/** Header names of dead-lettered messages (Kafka and RabbitMQ alike). */
export const DeadLetterHeaders = {
  /**
   * `invalid` (parse/schema), `timed-out` (statement or lock timeout on every
   * try while the database was up: {@link MessageTimedOutError}) or `failed`
   * (handler still failing after the last attempt).
   */
  reason: 'x-dlq-reason',
  errorCode: 'x-dlq-error-code',
  errorMessage: 'x-dlq-error-message',
  attempts: 'x-dlq-attempts',
  failedAt: 'x-dlq-failed-at',
  consumer: 'x-dlq-consumer',
  /** Where the message came from, so replay can send it back. */
  sourceTopic: 'x-dlq-source-topic',
  sourcePartition: 'x-dlq-source-partition',
  sourceOffset: 'x-dlq-source-offset',
  sourceQueue: 'x-dlq-source-queue',
  replays: 'x-dlq-replays',
  /**
   * Set by replay on the copy sent back to a shared source topic: the
   * consumer (group) whose dead letter it was. Every other group skips it.
   */
  replayFor: 'x-dlq-replay-for',
} as const;

/**
 * Thrown by an outbox publisher when the broker refused a message for good
 * (too large, unknown or forbidden destination, unroutable): sending the same
 * bytes again cannot help. The relay then finds the row, retries it a bounded
 * number of times and parks it.
 */
export class UnpublishableMessageError extends Error {
  readonly code = 'OUTBOX.REJECTED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UnpublishableMessageError';
  }
}
