import type { Span } from '@opentelemetry/api';
import { connect, type ChannelModel, type ConfirmChannel, type Message } from 'amqplib';
import { UnpublishableMessageError } from '../errors';
import { publishSpanName, sendTraced, startProducerSpan } from '../internal/tracing';
import { declareRabbitmqQueue, type RabbitmqQueueBinding } from '../rabbitmq/rabbitmq-consumer.server';
import { MessageHeaders } from './outbox';
import type { OutboxPublisher, PendingOutboxMessage } from './outbox-publisher';

/** Options of {@link RabbitmqOutboxPublisher}. */
export interface RabbitmqOutboxPublisherOptions {
  url: string;
  /**
   * The consumers' queues this service's commands go to, declared (with
   * their exchange and bindings) on every connect, so a command sent before
   * its consumer ever started waits in its queue.
   */
  queues?: RabbitmqQueueBinding[];
}

/**
 * Publishes outbox rows as persistent, `mandatory` messages on a confirm
 * channel; a batch resolves when the broker has confirmed every message and
 * returned none. A returned message (no queue bound for its routing key)
 * fails the batch with an {@link UnpublishableMessageError}: it is not
 * recorded as published, and the relay parks it after its attempts. A return
 * also makes the next batch declare `queues` again first, so a queue deleted
 * while the publisher was connected comes back on the retry. The
 * connection is opened lazily and dropped on any error, so the next batch
 * reconnects.
 */
export class RabbitmqOutboxPublisher implements OutboxPublisher {
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  /** Why the broker closed the channel last (e.g. 404 no such exchange). */
  private channelError: (Error & { code?: number }) | undefined;
  /** Set when the broker returned a message: the queues are declared again before the next batch. */
  private redeclare = false;

  constructor(private readonly options: RabbitmqOutboxPublisherOptions) {}

  async publish(messages: PendingOutboxMessage[], signal?: AbortSignal): Promise<void> {
    const channel = await this.connected();
    // Given up on: closing the connection fails the wait for confirms at once
    // instead of leaving the messages queued in a stalled connection.
    const abandon = (): void => void this.close();
    signal?.addEventListener('abort', abandon, { once: true });
    // The broker sends a mandatory message's basic.return before its ack, so
    // once every confirm is in, this holds all that were unroutable.
    const returned: string[] = [];
    const onReturn = (message: Message): void => {
      returned.push(`${message.fields.exchange} ${message.fields.routingKey}: ${(message.fields as { replyText?: string }).replyText ?? 'NO_ROUTE'}`);
    };
    channel.on('return', onReturn);
    const spans: Span[] = [];
    try {
      await sendTraced(spans, async () => {
        for (const m of messages) {
          const { span, headers } = startProducerSpan(publishSpanName(m.topic), m.headers, () => ({
            'messaging.system': 'rabbitmq',
            'messaging.destination.name': m.topic,
            'messaging.rabbitmq.destination.routing_key': m.routingKey ?? '',
            'messaging.operation.type': 'send',
            'conveyor.outbox.id': m.id,
          }));
          spans.push(span);
          channel.publish(m.topic, m.routingKey ?? '', Buffer.from(m.payload), {
            persistent: true,
            mandatory: true,
            contentType: 'application/json',
            messageId: headers[MessageHeaders.messageId] ?? `outbox-${m.id}`,
            headers,
          });
        }
        // Rejects if the broker nacked any of them or the channel closed.
        await channel.waitForConfirms();
        if (returned.length > 0) {
          // A queue this service declares may have been deleted since it
          // connected: declare them again before the next attempt, so the
          // queue comes back instead of every key being parked in turn.
          this.redeclare = true;
          throw new UnpublishableMessageError(
            `RabbitMQ returned ${returned.length} unroutable message(s) (no queue bound): ${[...new Set(returned)].join('; ')}`,
          );
        }
      });
    } catch (error) {
      const closedBy = this.channelError;
      if (!(error instanceof UnpublishableMessageError)) await this.close();
      // 404 no such exchange, 403 access refused: sending again cannot help.
      if (closedBy && (closedBy.code === 404 || closedBy.code === 403)) {
        throw new UnpublishableMessageError(`RabbitMQ refused the batch: ${closedBy.message}`, { cause: error });
      }
      throw error;
    } finally {
      channel.off('return', onReturn);
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
    if (this.channel && this.connection && !this.redeclare) return this.channel;
    if (this.channel && this.connection) {
      try {
        await this.declareQueues(this.connection);
        return this.channel;
      } catch (error) {
        await this.close();
        throw error;
      }
    }
    await this.close(); // a connection whose channel died
    this.channelError = undefined;
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
    try {
      await this.declareQueues(connection);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    const channel = await connection.createConfirmChannel();
    channel.on('error', (error: Error & { code?: number }) => {
      this.channelError = error;
    });
    channel.on('close', () => {
      if (this.channel === channel) this.channel = undefined;
    });
    this.connection = connection;
    this.channel = channel;
    return channel;
  }

  /** Declares the queues of `options.queues` (with their exchanges and bindings), on connect and after a return. */
  private async declareQueues(connection: ChannelModel): Promise<void> {
    this.redeclare = false;
    if (!this.options.queues?.length) return;
    // On its own channel: a refused declaration closes the channel it ran on.
    const declaring = await connection.createChannel();
    try {
      for (const binding of this.options.queues) await declareRabbitmqQueue(declaring, binding);
    } catch (error) {
      this.redeclare = true;
      throw error;
    }
    await declaring.close();
  }
}
