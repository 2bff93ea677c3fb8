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

/** Header names of dead-lettered messages (Kafka and RabbitMQ alike). */
export const DeadLetterHeaders = {
  /** `invalid` (parse/schema) or `failed` (handler still failing after the last attempt). */
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
