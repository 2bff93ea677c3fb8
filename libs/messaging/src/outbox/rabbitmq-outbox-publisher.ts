import type { Span } from '@opentelemetry/api';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { sendTraced, startProducerSpan } from '../internal/tracing';
import { MessageHeaders } from './outbox';
import type { OutboxPublisher, PendingOutboxMessage } from './outbox-publisher';

/** Options of {@link RabbitmqOutboxPublisher}. */
export interface RabbitmqOutboxPublisherOptions {
  url: string;
}

/**
 * Publishes outbox rows as persistent messages on a confirm channel; a batch
 * resolves when the broker has confirmed every message. The connection is
 * opened lazily and dropped on any error, so the next batch reconnects.
 */
export class RabbitmqOutboxPublisher implements OutboxPublisher {
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;

  constructor(private readonly options: RabbitmqOutboxPublisherOptions) {}

  async publish(messages: PendingOutboxMessage[], signal?: AbortSignal): Promise<void> {
    const channel = await this.connected();
    // Given up on: closing the connection fails the wait for confirms at once
    // instead of leaving the messages queued in a stalled connection.
    const abandon = (): void => void this.close();
    signal?.addEventListener('abort', abandon, { once: true });
    const spans: Span[] = [];
    try {
      await sendTraced(spans, async () => {
        for (const m of messages) {
          const { span, headers } = startProducerSpan(`${m.topic} publish`, m.headers, () => ({
            'messaging.system': 'rabbitmq',
            'messaging.destination.name': m.topic,
            'messaging.rabbitmq.destination.routing_key': m.routingKey ?? '',
            'messaging.operation.type': 'send',
            'conveyor.outbox.id': m.id,
          }));
          spans.push(span);
          channel.publish(m.topic, m.routingKey ?? '', Buffer.from(m.payload), {
            persistent: true,
            contentType: 'application/json',
            messageId: headers[MessageHeaders.messageId] ?? `outbox-${m.id}`,
            headers,
          });
        }
        // Rejects if the broker nacked any of them or the channel closed.
        await channel.waitForConfirms();
      });
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      signal?.removeEventListener('abort', abandon);
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    this.channel = undefined;
    await connection?.close().catch(() => undefined);
  }

  private async connected(): Promise<ConfirmChannel> {
    if (this.channel) return this.channel;
    await this.close(); // a connection whose channel died
    const connection = await connect(this.options.url);
    // Errors also surface through waitForConfirms; the listeners only keep an
    // 'error' event from crashing the process, and force a reconnect.
    connection.on('error', () => undefined);
    connection.on('close', () => {
      if (this.connection === connection) {
        this.connection = undefined;
        this.channel = undefined;
      }
    });
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.connection = connection;
    this.channel = channel;
    return channel;
  }
}
