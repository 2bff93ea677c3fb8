import { Global, Module } from '@nestjs/common';
import { BrokerHealth } from './broker-health';
import { OutboxRelayService } from './outbox-relay.service';

/** The outbox relay and the broker probes of /health/ready. */
@Global()
@Module({
  providers: [OutboxRelayService, BrokerHealth],
  exports: [BrokerHealth],
})
export class MessagingModule {}
