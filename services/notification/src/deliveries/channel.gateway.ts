import type { ResilientHttpClient } from '@conveyor/resilience';
import { Inject, Injectable } from '@nestjs/common';
import type { OutgoingMessage } from './domain/delivery-plan';
import { refusalReason } from './gateway-refusal.policy';

/** Injection tokens of the resilient clients of the SMS and push gateways (provider-sim): one breaker and one bulkhead each. */
export const SMS_CLIENT = Symbol('SMS_CLIENT');
export const PUSH_CLIENT = Symbol('PUSH_CLIENT');

/**
 * What became of a send, in delivery terms:
 * - sent: the gateway took it (its message id);
 * - refused: the gateway said no for good (gateway-refusal.policy.ts):
 *   sending it again cannot help.
 * Anything else (5xx, timeout, connection lost, breaker open, bulkhead full)
 * is thrown: the consumer retries it through the delay queues.
 */
export type SendOutcome = { kind: 'sent'; messageId: string } | { kind: 'refused'; reason: string };

/**
 * The SMS and push gateways, each through its own resilient client
 * (timeouts, retries with the Idempotency-Key, breaker, bulkhead). Never
 * called inside a DB transaction.
 */
@Injectable()
export class ChannelGateway {
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
      const reason = refusalReason(error);
      if (reason !== undefined) return { kind: 'refused', reason };
      throw error;
    }
  }
}
