import { DeadLetterHeaders, InvalidMessageError, PermanentMessageError } from '../errors';
import { errorMessage } from './backoff';

/**
 * The one mapping from a handler's failure to what a consumer does with the
 * message, shared by the Kafka and RabbitMQ consumers: a
 * {@link PermanentMessageError} (an {@link InvalidMessageError} included) is
 * dead-lettered at once; anything else is retried until the attempts run out.
 */
export function isPermanentFailure(error: unknown): boolean {
  return error instanceof PermanentMessageError;
}

/** The headers a dead letter carries about its failure (plus the source's own, added by each consumer). */
export function deadLetterHeaders(error: unknown, attempts: number, consumer: string): Record<string, string> {
  const code = error instanceof PermanentMessageError ? error.code : ((error as { code?: unknown })?.code?.toString() ?? 'MESSAGE.HANDLER_FAILED');
  return {
    [DeadLetterHeaders.reason]: error instanceof InvalidMessageError ? 'invalid' : 'failed',
    [DeadLetterHeaders.errorCode]: code,
    [DeadLetterHeaders.errorMessage]: errorMessage(error).slice(0, 2_000),
    [DeadLetterHeaders.attempts]: String(attempts),
    [DeadLetterHeaders.failedAt]: new Date().toISOString(),
    [DeadLetterHeaders.consumer]: consumer,
  };
}
