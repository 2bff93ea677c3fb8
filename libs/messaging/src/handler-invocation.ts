import { applyDecorators, Catch, Controller, UseFilters, type RpcExceptionFilter } from '@nestjs/common';
import { lastValueFrom, isObservable, throwError, type Observable } from 'rxjs';
import type { MessageHandler } from '@nestjs/microservices';

/**
 * Lets a handler's error reach the consumer unchanged. Nest's default RPC
 * filter logs any non-RpcException and replaces it by
 * `{ status: 'error', message: 'Internal server error' }`, which would lose
 * both the class (PermanentMessageError → no retry) and the message that the
 * dead letter should carry. The consumer logs the failure itself, once.
 */
@Catch()
export class RethrowToConsumerFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/** Marks a class whose `@EventPattern` handlers run under the Kafka or RabbitMQ consumer strategies. */
export const MessageConsumer = (): ClassDecorator => applyDecorators(Controller(), UseFilters(RethrowToConsumerFilter));

/** Calls a Nest message handler and waits for its result, Promise or Observable alike. */
export async function invokeHandler(handler: MessageHandler, data: unknown, ctx: unknown): Promise<void> {
  const result: unknown = await handler(data, ctx);
  if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
}
