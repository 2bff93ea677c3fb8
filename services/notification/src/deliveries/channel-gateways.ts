import { DownstreamRejectedError, type ResilientHttpClient } from '@conveyor/resilience';
import { Inject, Injectable } from '@nestjs/common';

/** Injection tokens of the resilient clients of the SMS and push gateways (provider-sim): one breaker and one bulkhead each. */
export const SMS_CLIENT = Symbol('SMS_CLIENT');
export const PUSH_CLIENT = Symbol('PUSH_CLIENT');

export type Channel = 'sms' | 'push';

/** One message for a gateway. */
export type OutgoingMessage =
  { channel: 'sms'; to: string; text: string } | { channel: 'push'; token: string; title: string; body: string; data: Record<string, string> };

/**
 * What became of a send, in delivery terms:
 * - sent: the gateway took it (its message id);
 * - refused: the gateway said no for good (4xx: invalid number, unknown
 *   device): sending it again cannot help.
 * Anything else (5xx, timeout, connection lost, breaker open, bulkhead full)
 * is thrown: the consumer retries it through the delay queues.
 */
export type SendOutcome = { kind: 'sent'; messageId: string } | { kind: 'refused'; reason: string };

const bodyCode = (body: unknown): string | undefined => {
  const code = (body as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};

/** 4xx that say "not now" rather than "never": retried like a 5xx. */
const TRANSIENT_4XX = new Set([408, 409, 425, 429]);

/**
 * The SMS and push gateways, each through its own resilient client
 * (timeouts, retries with the Idempotency-Key, breaker, bulkhead). Never
 * called inside a DB transaction.
 */
@Injectable()
export class ChannelGateways {
  constructor(
    @Inject(SMS_CLIENT) private readonly sms: ResilientHttpClient,
    @Inject(PUSH_CLIENT) private readonly push: ResilientHttpClient,
  ) {}

  /** Sends once per `idempotencyKey` (the command id): a repeat gets the first message id back, nothing is sent twice. */
  async send(message: OutgoingMessage, idempotencyKey: string): Promise<SendOutcome> {
    try {
      const response =
        message.channel === 'sms'
          ? await this.sms.post('/v1/sms', { to: message.to, text: message.text }, { idempotencyKey, operation: 'POST /v1/sms' })
          : await this.push.post(
              '/v1/push',
              { token: message.token, title: message.title, body: message.body, data: message.data },
              { idempotencyKey, operation: 'POST /v1/push' },
            );
      return { kind: 'sent', messageId: response.json<{ messageId: string }>().messageId };
    } catch (error) {
      if (error instanceof DownstreamRejectedError && !error.afterAmbiguousAttempt && !TRANSIENT_4XX.has(error.upstreamStatus)) {
        return { kind: 'refused', reason: bodyCode(error.body) ?? `REJECTED_${error.upstreamStatus}` };
      }
      throw error;
    }
  }
}
