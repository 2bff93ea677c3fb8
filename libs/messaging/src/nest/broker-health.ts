import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type ChannelModel } from 'amqplib';
import type { Admin, Kafka } from 'kafkajs';

/**
 * Cheap broker probes for /health/ready: Kafka cluster metadata through one
 * long-lived admin client, RabbitMQ exchanges through one long-lived
 * connection (a fresh channel per probe). A failed probe drops its client,
 * so the next one reconnects.
 */
@Injectable()
export class BrokerHealth implements OnApplicationShutdown {
  private admin: Admin | undefined;
  private connection: Promise<ChannelModel> | undefined;

  constructor(
    private readonly kafkaClient: Kafka | undefined,
    private readonly rabbitmqUrl: string | undefined,
  ) {}

  /** Resolves when the Kafka cluster answers a metadata request. */
  async kafka(): Promise<void> {
    if (!this.kafkaClient) throw new Error('no Kafka configured');
    if (!this.admin) {
      const admin = this.kafkaClient.admin();
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

  /** Resolves when RabbitMQ answers and each of `exchanges` exists. */
  async rabbitmq(exchanges: string[]): Promise<void> {
    const url = this.rabbitmqUrl;
    if (!url) throw new Error('no RabbitMQ configured');
    this.connection ??= connect(url).then((connection) => {
      connection.on('error', () => undefined);
      connection.on('close', () => (this.connection = undefined));
      return connection;
    });
    try {
      const connection = await this.connection;
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      for (const exchange of exchanges) await channel.checkExchange(exchange);
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
