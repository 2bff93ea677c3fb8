import { InjectConfig } from '@conveyor/config';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type ChannelModel } from 'amqplib';
import type { Admin } from 'kafkajs';
import type { OrderConfig } from '../config';
import { orderKafka } from './outbox-relay.service';

/**
 * Cheap broker probes for /health/ready: Kafka cluster metadata through one
 * long-lived admin client, and RabbitMQ's notification exchange through one
 * long-lived connection (a fresh channel per probe; a failed check closes it).
 */
@Injectable()
export class BrokerHealth implements OnApplicationShutdown {
  private admin: Admin | undefined;
  private connection: Promise<ChannelModel> | undefined;

  constructor(@InjectConfig() private readonly config: OrderConfig) {}

  async kafka(): Promise<void> {
    if (!this.admin) {
      const admin = orderKafka(this.config, 'health').admin();
      this.admin = admin;
      try {
        await admin.connect();
      } catch (error) {
        this.admin = undefined;
        throw error;
      }
    }
    try {
      await this.admin.describeCluster();
    } catch (error) {
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async rabbitmq(): Promise<void> {
    this.connection ??= connect(this.config.RABBITMQ_URL).then((connection) => {
      connection.on('error', () => undefined);
      connection.on('close', () => (this.connection = undefined));
      return connection;
    });
    try {
      const connection = await this.connection;
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      await channel.checkExchange(this.config.NOTIFICATION_EXCHANGE);
      await channel.close().catch(() => undefined);
    } catch (error) {
      const pending = this.connection;
      this.connection = undefined;
      await pending?.then((c) => c.close()).catch(() => undefined);
      throw error;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.admin?.disconnect().catch(() => undefined);
    await this.connection?.then((c) => c.close()).catch(() => undefined);
  }
}
