import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { SpanKind, context as otelContext, trace } from '@opentelemetry/api';
import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { DataSource, EntityManager } from 'typeorm';
import type { z } from 'zod';
import { DeadLetterHeaders, MessageTimedOutError } from '../errors';
import { classifyFailure, deadLetterHeaders, timeoutOfTheMessage } from '../internal/failure-policy';
import { invokeHandler } from '../handler-invocation';
import { applyOnce, parseEnvelope } from '../internal/apply-message';
import { backoffDelay, errorMessage, sleep } from '../internal/backoff';
import { consumerSpanParent, endSpan, headersToStrings, processSpanName, tracer, withoutInstrumentation } from '../internal/tracing';
import { MessageContext } from '../message-context';

/** Options of {@link RabbitmqConsumerServer}; defaults in brackets match `rabbitmqConsumerEnv`. */
export interface RabbitmqConsumerOptions {
  url: string;
  /** Topic exchange the commands are published to. */
  exchange: string;
  /** Quorum queue this consumer reads, bound to the exchange with `bindingKeys`. */
  queue: string;
  bindingKeys: string[];
  /** The database holding the `inbox` table and the handlers' own tables. */
  dataSource: DataSource;
  /** Runtime schema every message is validated against (e.g. `notificationCommandSchema`). */
  schema?: z.ZodType;
  /**
   * Whether each message is applied once through the inbox, in one
   * transaction with the handler's writes [true]. false: the handler runs
   * outside any transaction (`ctx.manager` is the plain manager) and keeps
   * its own idempotency: for a handler whose effect is a partner call, which
   * must never run inside a DB transaction and must stay retryable after a
   * failure (the notification service: its delivery log and the partner's
   * Idempotency-Key).
   */
  inbox?: boolean;
  /** Unacked messages in flight [20]. */
  prefetch?: number;
  /** One delay queue per retry, in order; then `<queue>.dlq` [1 s, 10 s, 60 s]. */
  retryDelaysMs?: number[];
  /**
   * Rounds of one message that end in a statement or lock timeout while the
   * database answers a probe, before it is dead-lettered as the cause
   * (`MessageTimedOutError`) [10]. Outages never count.
   */
  maxTimeoutAttempts?: number;
  /** Reconnect back-off after the connection is lost [500 ms, doubling up to 10 s]. */
  reconnectInitialMs?: number;
  reconnectMaxMs?: number;
  /** Shown in the management UI (`connection_name`); default `<queue> consumer`. */
  connectionName?: string;
}

/** Header counting the failed deliveries of a message so far. */
export const RETRY_COUNT_HEADER = 'x-retry-count';
/** Rounds through the delay queues caused by infrastructure failures (they do not count as attempts). */
export const OUTAGE_RETRY_COUNT_HEADER = 'x-outage-retry-count';
/** Of those rounds, the ones that timed out while the database answered a probe: charged to the message. */
export const TIMEOUT_RETRY_COUNT_HEADER = 'x-timeout-retry-count';

/** Names of the queues around a consumer queue. */
export const rabbitmqQueues = (queue: string, retryDelaysMs: number[]) => ({
  deadLetter: `${queue}.dlq`,
  // The TTL is in the name: a queue's arguments cannot change once declared,
  // so a new delay gets a new queue instead of a PRECONDITION_FAILED.
  delays: retryDelaysMs.map((ms) => ({ ms, queue: `${queue}.delay.${ms}ms` })),
});

/** A consumer's work queue and what it is bound to, as a publisher that depends on it declares it. */
export interface RabbitmqQueueBinding {
  exchange: string;
  queue: string;
  bindingKeys: string[];
}

/**
 * Declares the topic exchange, the quorum work queue and its bindings, with
 * the same arguments as the consumer's {@link declareRabbitmqTopology}, so
 * publisher and consumer may each declare them in any order. A publisher
 * declares the queues its commands go to: a command sent before the consumer
 * ever started then waits in the queue instead of being dropped as unroutable.
 */
export async function declareRabbitmqQueue(channel: Channel, binding: RabbitmqQueueBinding): Promise<void> {
  await channel.assertExchange(binding.exchange, 'topic', { durable: true });
  await channel.assertQueue(binding.queue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  for (const key of binding.bindingKeys) await channel.bindQueue(binding.queue, binding.exchange, key);
}

/**
 * Declares exchange, quorum queue and binding, delay queues and the dead
 * letter queue. Every declaration is idempotent, so each consumer replica
 * runs it at start and after every reconnect.
 */
export async function declareRabbitmqTopology(
  channel: Channel,
  options: Pick<RabbitmqConsumerOptions, 'exchange' | 'queue' | 'bindingKeys' | 'retryDelaysMs'>,
): Promise<void> {
  const names = rabbitmqQueues(options.queue, options.retryDelaysMs ?? DEFAULT_DELAYS);
  await declareRabbitmqQueue(channel, options);
  for (const delay of names.delays) {
    // No consumer: messages wait out the TTL, then are dead-lettered through
    // the default exchange straight back to the work queue (not the topic
    // exchange, where other bindings would see them again).
    await channel.assertQueue(delay.queue, {
      durable: true,
      arguments: { 'x-message-ttl': delay.ms, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': options.queue },
    });
  }
  await channel.assertQueue(names.deadLetter, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
}

const DEFAULT_DELAYS = [1_000, 10_000, 60_000];

/**
 * A NestJS transport strategy for a RabbitMQ queue: `@EventPattern(type)`
 * handlers, manual ack, prefetch, the inbox and the handler's writes in one
 * transaction; a failure is re-published to the next delay queue (the copy
 * is confirmed before the original is acked), and after the last delay to
 * `<queue>.dlq`. Reconnects with back-off when the connection drops.
 */
export class RabbitmqConsumerServer extends Server implements CustomTransportStrategy {
  private readonly log = new Logger(RabbitmqConsumerServer.name);
  private readonly delays: number[];
  private connection: ChannelModel | undefined;
  private channel: Channel | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private reconnecting: Promise<void> | undefined;

  constructor(private readonly options: RabbitmqConsumerOptions) {
    super();
    this.delays = options.retryDelaysMs ?? DEFAULT_DELAYS;
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.connectAndConsume();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /** Stops receiving, waits for the messages in flight to be acked, and closes the connection. */
  async close(): Promise<void> {
    this.stopping.abort();
    const channel = this.channel;
    const tag = this.consumerTag;
    if (channel && tag) await channel.cancel(tag).catch(() => undefined);
    await Promise.allSettled([...this.inFlight]);
    await this.reconnecting;
    await this.connection?.close().catch(() => undefined);
    this.connection = undefined;
  }

  on(): never {
    throw new Error('RabbitmqConsumerServer does not emit events');
  }

  unwrap<T>(): T {
    return this.connection as T;
  }

  private consumerTag: string | undefined;

  private async connectAndConsume(): Promise<void> {
    const connection = await connect(this.options.url, {
      clientProperties: { connection_name: this.options.connectionName ?? `${this.options.queue} consumer` },
    });
    connection.on('error', (error: Error) => this.log.warn(`RabbitMQ connection error: ${error.message}`));
    connection.on('close', () => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.channel = undefined;
      if (!this.stopping.signal.aborted) this.reconnecting = this.reconnect();
    });
    try {
      const channel = await connection.createChannel();
      const publisher = await connection.createConfirmChannel();
      // A channel error (e.g. a failed declaration) closes the channel; the
      // connection is closed with it so one reconnect path handles both.
      for (const ch of [channel, publisher]) {
        ch.on('error', (error: Error) => this.log.warn(`RabbitMQ channel error: ${error.message}`));
        ch.on('close', () => void connection.close().catch(() => undefined));
      }
      await declareRabbitmqTopology(channel, { ...this.options, retryDelaysMs: this.delays });
      await channel.prefetch(this.options.prefetch ?? 20);
      this.connection = connection;
      this.channel = channel;
      const { consumerTag } = await channel.consume(
        this.options.queue,
        (msg) => {
          if (!msg) return; // the queue was deleted; 'close' follows
          const work = this.handle(channel, publisher, msg).finally(() => this.inFlight.delete(work));
          this.inFlight.add(work);
        },
        { noAck: false },
      );
      this.consumerTag = consumerTag;
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
  }

  private async reconnect(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt += 1) {
      const delay = backoffDelay(attempt, { baseDelayMs: this.options.reconnectInitialMs ?? 500, maxDelayMs: this.options.reconnectMaxMs ?? 10_000 });
      await sleep(delay, this.stopping.signal);
      if (this.stopping.signal.aborted) return;
      try {
        await this.connectAndConsume();
        this.log.log(`RabbitMQ consumer of ${this.options.queue} reconnected after ${attempt} attempts`);
        return;
      } catch (error) {
        if (attempt === 1 || attempt % 10 === 0) this.log.warn(`RabbitMQ reconnect attempt ${attempt} failed: ${errorMessage(error)}`);
      }
    }
  }

  private async handle(channel: Channel, publisher: ConfirmChannel, msg: ConsumeMessage): Promise<void> {
    // The broker's own dead-letter bookkeeping (x-death, x-first-death-*) is
    // structured and grows with every round; our retry count replaces it.
    const headers = Object.fromEntries(
      Object.entries(headersToStrings(msg.properties.headers as Record<string, unknown>)).filter(([k]) => !/^x-(first-|last-)?death/.test(k)),
    );
    const failures = Number(headers[RETRY_COUNT_HEADER] ?? 0);
    const attempt = failures + 1;
    const { parent, links } = consumerSpanParent(headers);
    const span = tracer.startSpan(
      processSpanName(this.options.queue),
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.operation.type': 'process',
          'messaging.system': 'rabbitmq',
          'messaging.destination.name': this.options.queue,
          'messaging.rabbitmq.destination.routing_key': msg.fields.routingKey,
          'conveyor.attempt': attempt,
        },
      },
      parent,
    );
    try {
      await otelContext.with(trace.setSpan(otelContext.active(), span), async () => {
        try {
          const envelope = parseEnvelope(msg.content, this.options.schema);
          span.setAttributes({ 'messaging.message.id': envelope.id, 'conveyor.event.type': envelope.type });
          const handler = this.getHandlerByPattern(this.normalizePattern(envelope.type));
          if (handler) {
            const maxAttempts = this.delays.length + 1;
            const contextWith = (manager: EntityManager) =>
              new MessageContext(manager, envelope, this.options.queue, headers, attempt, undefined, undefined, this.options.queue, maxAttempts);
            if (this.options.inbox === false) {
              await invokeHandler(handler, envelope.payload, contextWith(this.options.dataSource.manager));
            } else {
              const result = await applyOnce(this.options.dataSource, this.options.queue, envelope.id, (manager) =>
                invokeHandler(handler, envelope.payload, contextWith(manager)),
              );
              span.setAttribute('conveyor.inbox', result);
            }
          }
        } catch (error) {
          await this.retryOrDeadLetter(publisher, msg, headers, failures + 1, error);
        }
      });
      channel.ack(msg);
      endSpan(span);
    } catch (error) {
      // The retry copy was not confirmed, or the ack could not be sent
      // (connection lost): the original stays unacked and the broker
      // redelivers it after we reconnect; the inbox absorbs a repeat.
      endSpan(span, error);
      this.log.warn(`${this.options.queue}: message left unacked, it will be redelivered: ${errorMessage(error)}`);
    }
  }

  private async retryOrDeadLetter(
    publisher: ConfirmChannel,
    msg: ConsumeMessage,
    headers: Record<string, string>,
    failures: number,
    error: unknown,
  ): Promise<void> {
    const names = rabbitmqQueues(this.options.queue, this.delays);
    const kind = classifyFailure(error);
    let permanent = kind === 'message';
    let failure = error;
    let attempts = failures;
    const properties = { ...msg.properties, persistent: true };
    if (kind === 'infrastructure' && names.delays.length > 0) {
      // Database down, lock timeout, connection reset: not the message's
      // fault. Through the delay queues (longer each round, capped at the
      // longest) without using up an attempt, for as long as it lasts.
      // Except a statement or lock timeout while the database answers a
      // probe: the message's own, dead-lettered after maxTimeoutAttempts.
      const rounds = Number(headers[OUTAGE_RETRY_COUNT_HEADER] ?? 0);
      const timedOut = await timeoutOfTheMessage(error, this.options.dataSource);
      const timeouts = Number(headers[TIMEOUT_RETRY_COUNT_HEADER] ?? 0) + (timedOut === undefined ? 0 : 1);
      if (timedOut !== undefined && timeouts >= (this.options.maxTimeoutAttempts ?? 10)) {
        failure = new MessageTimedOutError(timedOut, timeouts, error);
        attempts = timeouts;
        permanent = true;
      } else {
        const delay = names.delays[Math.min(rounds, names.delays.length - 1)];
        if (rounds === 0 || rounds % 10 === 9)
          this.log.warn(`${this.options.queue}: infrastructure failure (${errorMessage(error)}); retrying in ${delay.ms} ms`);
        trace.getActiveSpan()?.addEvent('retry', { attempt: failures, kind, delayMs: delay.ms, error: errorMessage(error) });
        await withoutInstrumentation(async () => {
          publisher.sendToQueue(delay.queue, msg.content, {
            ...properties,
            headers: {
              ...headers,
              [RETRY_COUNT_HEADER]: String(failures - 1),
              [OUTAGE_RETRY_COUNT_HEADER]: String(rounds + 1),
              [TIMEOUT_RETRY_COUNT_HEADER]: String(timeouts),
            },
          });
          await publisher.waitForConfirms();
        });
        return;
      }
    }
    const next = names.delays[failures - 1];
    if (!permanent && next) {
      this.log.warn(`${this.options.queue}: attempt ${failures} failed (${errorMessage(error)}); retrying in ${next.ms} ms`);
      trace.getActiveSpan()?.addEvent('retry', { attempt: failures, delayMs: next.ms, error: errorMessage(error) });
      await withoutInstrumentation(async () => {
        publisher.sendToQueue(next.queue, msg.content, { ...properties, headers: { ...headers, [RETRY_COUNT_HEADER]: String(failures) } });
        await publisher.waitForConfirms();
      });
      return;
    }
    this.log.error(`${this.options.queue}: dead-lettered after ${attempts} attempts: ${errorMessage(failure)}`);
    trace.getActiveSpan()?.addEvent('dead-lettered', { queue: names.deadLetter, error: errorMessage(failure) });
    await withoutInstrumentation(async () => {
      publisher.sendToQueue(names.deadLetter, msg.content, {
        ...properties,
        headers: {
          ...headers,
          [RETRY_COUNT_HEADER]: String(failures),
          ...deadLetterHeaders(failure, attempts, this.options.queue),
          [DeadLetterHeaders.sourceQueue]: this.options.queue,
        },
      });
      await publisher.waitForConfirms();
    });
  }
}
