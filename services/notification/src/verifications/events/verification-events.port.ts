import { InjectConfig } from '@conveyor/config';
import { NotificationTemplates, RoutingKeys, SendSms } from '@conveyor/contracts';
import { addToOutbox, eventMessage, type OutboxDestination } from '@conveyor/messaging';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { NotificationConfig } from '../../config';

/** A code to send: to whom, to which phone, and how long it can be confirmed. */
export interface IssuedCode {
  userId: string;
  phone: string;
  code: string;
  validMinutes: number;
}

/** What the verifications feature owes the rest of the system; called inside a transaction, with its manager. */
export interface VerificationEvents {
  /** The `verification-code` SMS command on RabbitMQ `notification.commands`: this service's own consumer sends it. */
  codeIssued(manager: EntityManager, issued: IssuedCode): Promise<void>;
}

export const VERIFICATION_EVENTS = Symbol('VERIFICATION_EVENTS');

/**
 * VerificationEvents through the transactional outbox of libs/messaging. The
 * command carries the code in clear: the outbox row and the message are the
 * only places it is, until published and cleaned up (`OUTBOX_RETENTION_MS`).
 */
@Injectable()
export class OutboxVerificationEvents implements VerificationEvents {
  // The exchange is config (NOTIFICATION_EXCHANGE; default the libs/contracts name) so tests can use their own.
  private readonly sms: OutboxDestination;

  constructor(@InjectConfig() config: Pick<NotificationConfig, 'NOTIFICATION_EXCHANGE'>) {
    this.sms = { kind: 'rabbitmq', exchange: config.NOTIFICATION_EXCHANGE, routingKey: RoutingKeys.sendSms };
  }

  async codeIssued(manager: EntityManager, issued: IssuedCode): Promise<void> {
    const command = SendSms.create(issued.userId, {
      recipientId: issued.userId,
      phoneNumber: issued.phone,
      template: NotificationTemplates.verificationCode,
      params: { code: issued.code, minutes: String(issued.validMinutes) },
    });
    await addToOutbox(manager, eventMessage(this.sms, command));
  }
}
