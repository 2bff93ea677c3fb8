import { Module } from '@nestjs/common';
import { AcceptMessageHttpController } from './commands/accept-message/accept-message.http.controller';
import { AcceptMessageService } from './commands/accept-message/accept-message.service';
import { MessagesRepository } from './messages.repository';

/** The SMS and push gateways: accept a message (once per Idempotency-Key), record it for inspection. */
@Module({ controllers: [AcceptMessageHttpController], providers: [MessagesRepository, AcceptMessageService], exports: [MessagesRepository] })
export class MessagesModule {}
