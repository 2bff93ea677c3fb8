import { Logger } from '@nestjs/common';
import { CustomTransportStrategy, Server } from '@nestjs/microservices';
import { SpanKind, context as otelContext, trace } from '@opentelemetry/api';
import type { Consumer, EachBatchPayload, IHeaders, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { DataSource } from 'typeorm';
import type { z } from 'zod';
import { DeadLetterHeaders, MessageTimedOutError } from '../errors';
import { createKafkaTopics } from './create-topics';
import { classifyFailure, deadLetterHeaders, timeoutOfTheMessage } from '../internal/failure-policy';
import { invokeHandler } from '../handler-invocation';
import { applyOnce, parseEnvelope } from '../internal/apply-message';
import { backoffDelay, errorMessage, sleep } from '../internal/backoff';
import { consumerSpanParent, endSpan, headersToStrings, processSpanName, tracer, withoutInstrumentation } from '../internal/tracing';
import { MessageContext } from '../message-context';

/** Options of {@link KafkaConsumerServer}; defaults in brackets match `kafkaConsumerEnv`. */
export interface KafkaConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topics: string[];
  /** The database holding the `inbox` table and the handlers' own tables. */
  dataSource: DataSource;
  /** Runtime schema per topic (e.g. `orderEventSchema`); every message is validated against it. */
  schemas?: Record<string, z.ZodType>;
  /** Handler attempts per message before it is dead-lettered [5]. */
  maxAttempts?: number;
  /**
   * Tries of one message that end in a statement or lock timeout while the
   * database answers a probe, before it is dead-lettered as the cause
   * (`MessageTimedOutError`) [10]. Outages never count.
   */
  maxTimeoutAttempts?: number;
  /**
   * Back-off between in-place attempts of a failing handler, and how long a
   * partition is paused after an infrastructure failure [100 ms, doubling up
   * to 5 s].
   */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Partitions processed in parallel; one partition is always processed in order [3]. */
  partitionsConsumedConcurrently?: number;
  /** Read a new group's topics from the beginning [true]. */
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Creates the `<topic>.<group>.dlq` topics at start if missing [true]. */
  createDeadLetterTopics?: boolean;
}

/** What became of one message: applied (or skipped, or dead-lettered), or held by an infrastructure failure. */
type MessageOutcome = { held: false } | { held: true; delayMs: number };

/** An infrastructure failure under way on one partition: the message it holds and how many tries it has had. */
interface PartitionOutage {
  offset: string;
  tries: number;
  /** Of those, tries that timed out while the database answered a probe: charged to the message. */
  timeouts: number;
}

/** The dead-letter topic of a topic for one consumer group. */
export const kafkaDeadLetterTopic = (topic: string, groupId: string): string => `${topic}.${groupId}.dlq`;

/**
 * A NestJS transport strategy that feeds Kafka messages to `@EventPattern(type)`
 * handlers (pattern = the envelope's `type`). Per message: parse and validate,
 * then one transaction with the inbox insert and the handler's writes
 * (`ctx.manager`), a failing handler retried in place with back-off; a message that is invalid
 * or still failing goes to `<topic>.<group>.dlq` with the error in headers and
 * its offset is committed, so one bad message never stops a partition. An
 * infrastructure failure (database down, lock timeout, connection reset)
 * pauses the message's partition instead, uncommitted, and resumes it after a
 * capped back-off: the batch returns at once, so the fetch loop, the
 * heartbeats and the other partitions go on however long the outage lasts.
 */
export class KafkaConsumerServer extends Server implements CustomTransportStrategy {
  private readonly log = new Logger(KafkaConsumerServer.name);
  private consumer: Consumer | undefined;
  private producer: Producer | undefined;
  private readonly stopping = new AbortController();
  /** Partitions held by an infrastructure failure, by `topic:partition`. */
  private readonly outages = new Map<string, PartitionOutage>();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: KafkaConsumerOptions) {
    super();
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /**
   * Stops fetching, lets the message in flight finish (its transaction
   * commits or rolls back), commits the offsets resolved so far and leaves
   * the group.
   */
  async close(): Promise<void> {
    this.stopping.abort();
    this.resumeTimers.forEach((timer) => clearTimeout(timer));
    this.resumeTimers.clear();
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    this.consumer = undefined;
    this.producer = undefined;
  }

  on(): never {
    throw new Error('KafkaConsumerServer does not emit events');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  private async start(): Promise<void> {
    const { kafka, groupId, topics } = this.options;
    if (this.options.createDeadLetterTopics ?? true) await this.createDeadLetterTopics();
    this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: this.options.heartbeatIntervalMs ?? 3_000,
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: this.options.fromBeginning ?? true });
    await this.consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.processBatch(payload),
    });
  }

  private async createDeadLetterTopics(): Promise<void> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const wanted = this.options.topics.map((t) => kafkaDeadLetterTopic(t, this.options.groupId)).filter((t) => !existing.has(t));
      if (wanted.length === 0) return;
      // One partition: dead letters are few, and replay then keeps their order.
      await createKafkaTopics(
        admin,
        wanted.map((topic) => ({ topic, numPartitions: 1 })),
      );
    } finally {
      await admin.disconnect();
    }
  }

  private async processBatch({ batch, resolveOffset, heartbeat, isRunning, isStale, commitOffsetsIfNecessary, pause }: EachBatchPayload): Promise<void> {
    for (const message of batch.messages) {
      // After close() or a rebalance, stop before the next message; the
      // offsets resolved so far are committed below.
      if (!isRunning() || isStale()) break;
      const outcome = await this.processMessage(batch.topic, batch.partition, message, heartbeat, () => !isRunning() || isStale());
      if (outcome.held) {
        // Not resolved: the next fetch of this partition starts at this message.
        this.pauseFor(pause, outcome.delayMs);
        break;
      }
      resolveOffset(message.offset);
      await heartbeat();
    }
    await commitOffsetsIfNecessary();
  }

  /**
   * Pauses the partition (kafkajs stops fetching it; the member keeps
   * heartbeating and the other partitions keep flowing) and resumes it after
   * `delayMs`. Its pause survives a rebalance; if the partition moved to
   * another member meanwhile, that one starts at the uncommitted message.
   */
  private pauseFor(pause: EachBatchPayload['pause'], delayMs: number): void {
    const resume = pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      if (!this.stopping.signal.aborted) resume();
    }, delayMs);
    this.resumeTimers.add(timer);
  }

  private async processMessage(
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
    lost: () => boolean,
  ): Promise<MessageOutcome> {
    const headers = headersToStrings(message.headers as Record<string, unknown>);
    const { parent, links } = consumerSpanParent(headers);
    const span = tracer.startSpan(
      processSpanName(topic),
      {
        kind: SpanKind.CONSUMER,
        links,
        attributes: {
          'messaging.operation.type': 'process',
          'messaging.system': 'kafka',
          'messaging.destination.name': topic,
          'messaging.consumer.group.name': this.options.groupId,
          'messaging.destination.partition.id': String(partition),
          'messaging.kafka.offset': message.offset,
          'messaging.kafka.message.key': message.key?.toString() ?? '',
        },
      },
      parent,
    );
    try {
      const outcome = await otelContext.with(trace.setSpan(otelContext.active(), span), () =>
        this.handleWithRetries(topic, partition, message, headers, heartbeat, lost),
      );
      endSpan(span);
      return outcome;
    } catch (error) {
      endSpan(span, error);
      throw error; // a failed dead-letter publish, or a retry cut short by close/rebalance: not committed, delivered again
    }
  }

  private async handleWithRetries(
    topic: string,
    partition: number,
    message: KafkaMessage,
    headers: Record<string, string>,
    heartbeat: () => Promise<void>,
    lost: () => boolean,
  ): Promise<MessageOutcome> {
    const done: MessageOutcome = { held: false };
    const span = trace.getActiveSpan();
    const replayFor = headers[DeadLetterHeaders.replayFor];
    if (replayFor !== undefined && replayFor !== this.options.groupId) {
      span?.setAttribute('conveyor.skipped', 'replay for another group');
      return done; // a dead letter of another group, replayed to it
    }
    let envelope;
    try {
      envelope = parseEnvelope(message.value, this.options.schemas?.[topic]);
    } catch (error) {
      await this.deadLetter(topic, partition, message, headers, error, 0);
      return done;
    }
    span?.setAttributes({ 'messaging.message.id': envelope.id, 'conveyor.event.type': envelope.type });
    const handler = this.getHandlerByPattern(this.normalizePattern(envelope.type));
    if (!handler) return done; // an event type this service does not care about

    const maxAttempts = this.options.maxAttempts ?? 5;
    const backoff = { baseDelayMs: this.options.backoffInitialMs ?? 100, maxDelayMs: this.options.backoffMaxMs ?? 5_000 };
    const partitionKey = `${topic}:${partition}`;
    // Handler attempts count towards maxAttempts and are retried in place.
    // Infrastructure failures (database down, lock timeout, connection reset)
    // do not count: the partition is paused with capped back-off (growing
    // across the pauses of one message) for as long as the outage lasts,
    // its offset unresolved and uncommitted, and never dead-lettered. Except
    // a statement or lock timeout while the database answers a probe: the
    // message's own, dead-lettered after maxTimeoutAttempts of those.
    let attempt = 1;
    for (let tries = 1; ; tries += 1) {
      try {
        const result = await applyOnce(this.options.dataSource, this.options.groupId, envelope.id, (manager) =>
          invokeHandler(
            handler,
            envelope.payload,
            new MessageContext(manager, envelope, topic, headers, attempt, partition, message.offset, this.options.groupId),
          ),
        );
        span?.setAttribute('conveyor.inbox', result);
        this.endOutage(partitionKey, topic, partition, message.offset);
        return done;
      } catch (error) {
        const kind = classifyFailure(error);
        if (kind === 'message') {
          await this.deadLetter(topic, partition, message, headers, error, attempt);
          this.endOutage(partitionKey, topic, partition, message.offset);
          return done;
        }
        // Stopping or no longer ours: leave it uncommitted, it is delivered again.
        if (this.stopping.signal.aborted || lost()) throw error;
        if (kind === 'infrastructure') {
          const timedOut = await timeoutOfTheMessage(error, this.options.dataSource);
          const outage = this.countOutage(partitionKey, message.offset, timedOut !== undefined);
          if (timedOut !== undefined && outage.timeouts >= (this.options.maxTimeoutAttempts ?? 10)) {
            await this.deadLetter(topic, partition, message, headers, new MessageTimedOutError(timedOut, outage.timeouts, error), outage.timeouts);
            this.endOutage(partitionKey, topic, partition, message.offset);
            return done;
          }
          return this.holdPartition(outage, topic, partition, message.offset, envelope, error, backoff);
        }
        if (attempt >= maxAttempts) {
          await this.deadLetter(topic, partition, message, headers, error, attempt);
          this.endOutage(partitionKey, topic, partition, message.offset);
          return done;
        }
        attempt += 1;
        const delay = backoffDelay(tries, backoff);
        this.log.warn(
          `${topic}[${partition}]@${message.offset} ${envelope.type} ${envelope.id}: attempt ${attempt - 1} failed (${errorMessage(error)}); retrying in ${delay} ms`,
        );
        span?.addEvent('retry', { attempt, kind, error: errorMessage(error) });
        await sleep(delay, this.stopping.signal);
        await heartbeat();
      }
    }
  }

  /** Counts one more infrastructure failure of the partition's current message (and whether it was the message's own timeout). */
  private countOutage(partitionKey: string, offset: string, timedOut: boolean): PartitionOutage {
    const previous = this.outages.get(partitionKey);
    const same = previous?.offset === offset;
    const outage = { offset, tries: same ? previous.tries + 1 : 1, timeouts: (same ? previous.timeouts : 0) + (timedOut ? 1 : 0) };
    this.outages.set(partitionKey, outage);
    return outage;
  }

  /** Says how long to pause the partition held by `outage`. */
  private holdPartition(
    { tries }: PartitionOutage,
    topic: string,
    partition: number,
    offset: string,
    envelope: { type: string; id: string },
    error: unknown,
    backoff: { baseDelayMs: number; maxDelayMs: number },
  ): MessageOutcome {
    const delayMs = backoffDelay(tries, backoff);
    // An outage is logged on its first try and every tenth, not per message per try.
    if (tries === 1 || tries % 10 === 0) {
      this.log.warn(
        `${topic}[${partition}]@${offset} ${envelope.type} ${envelope.id}: infrastructure failure (${errorMessage(error)}); try ${tries}, partition paused for ${delayMs} ms`,
      );
    }
    trace.getActiveSpan()?.addEvent('partition paused', { tries, delayMs, error: errorMessage(error) });
    return { held: true, delayMs };
  }

  private endOutage(partitionKey: string, topic: string, partition: number, offset: string): void {
    const outage = this.outages.get(partitionKey);
    if (!outage) return;
    this.outages.delete(partitionKey);
    if (outage.offset === offset) this.log.log(`${topic}[${partition}]@${offset}: applied after ${outage.tries} paused tries; partition flowing again`);
  }

  private async deadLetter(
    topic: string,
    partition: number,
    message: KafkaMessage,
    headers: Record<string, string>,
    error: unknown,
    attempts: number,
  ): Promise<void> {
    const dlq = kafkaDeadLetterTopic(topic, this.options.groupId);
    const dlqHeaders: IHeaders = {
      ...headers,
      ...deadLetterHeaders(error, attempts, this.options.groupId),
      [DeadLetterHeaders.sourceTopic]: topic,
      [DeadLetterHeaders.sourcePartition]: String(partition),
      [DeadLetterHeaders.sourceOffset]: message.offset,
    };
    this.log.error(`${topic}[${partition}]@${message.offset}: dead-lettered to ${dlq} after ${attempts} attempts: ${errorMessage(error)}`);
    trace.getActiveSpan()?.addEvent('dead-lettered', { topic: dlq, error: errorMessage(error) });
    const producer = this.producer;
    if (!producer) throw new Error('consumer is closed; the message stays uncommitted');
    await withoutInstrumentation(async () => {
      await producer.send({ topic: dlq, acks: -1, messages: [{ key: message.key, value: message.value, headers: dlqHeaders }] });
    });
  }
}
