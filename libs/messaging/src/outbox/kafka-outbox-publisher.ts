import type { Kafka, Message, Producer } from 'kafkajs';
import { CompressionTypes } from 'kafkajs';
import { UnpublishableMessageError } from '../errors';
import { publishSpanName, sendTraced, startProducerSpan } from '../internal/tracing';
import type { OutboxPublisher, PendingOutboxMessage } from './outbox-publisher';

/** Options of {@link KafkaOutboxPublisher}. */
export interface KafkaOutboxPublisherOptions {
  kafka: Kafka;
  /** Broker round-trip bound for one batch (kafkajs request timeout); default 10 s. */
  requestTimeoutMs?: number;
  /** kafkajs retries within one send before the relay's own back-off takes over; default 3. */
  retries?: number;
}

/**
 * Sends outbox rows to Kafka with an idempotent producer (acks=all, one
 * request in flight, so a retried request cannot reorder a partition).
 */
export class KafkaOutboxPublisher implements OutboxPublisher {
  private producer: Producer | undefined;

  constructor(private readonly options: KafkaOutboxPublisherOptions) {}

  async publish(messages: PendingOutboxMessage[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const producer = await this.connected();
    // Given up on: this producer's queue (one request in flight, the rest
    // waiting behind it) must not take the next batch, or a stalled broker
    // would get one more copy of it per retry. The next publish starts a new
    // producer; this one is disconnected once its request has ended.
    const abandon = (): void => {
      if (this.producer === producer) this.producer = undefined;
      void producer.disconnect().catch(() => undefined);
    };
    signal?.addEventListener('abort', abandon, { once: true });
    const byTopic = new Map<string, Message[]>();
    const spans = messages.map((m) => {
      const { span, headers } = startProducerSpan(publishSpanName(m.topic), m.headers, () => ({
        'messaging.system': 'kafka',
        'messaging.destination.name': m.topic,
        'messaging.kafka.message.key': m.key,
        'messaging.operation.type': 'send',
        'conveyor.outbox.id': m.id,
      }));
      const list = byTopic.get(m.topic) ?? [];
      list.push({ key: m.key, value: m.payload, headers });
      byTopic.set(m.topic, list);
      return span;
    });
    try {
      await sendTraced(spans, () =>
        producer.sendBatch({
          acks: -1,
          timeout: this.options.requestTimeoutMs ?? 10_000,
          compression: CompressionTypes.None,
          topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
        }),
      );
    } catch (error) {
      // A failed idempotent producer may hold sequence state the broker no
      // longer agrees with (e.g. after a broker restart); start clean.
      await this.close();
      const refusal = refusedForGood(error);
      if (refusal) throw new UnpublishableMessageError(`Kafka refused the batch: ${refusal}`, { cause: error });
      throw error;
    } finally {
      signal?.removeEventListener('abort', abandon);
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.options.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Bounded, unlike kafkajs' idempotent default (retry forever): the relay
      // must get the error back to roll its transaction back and back off.
      retry: { retries: this.options.retries ?? 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    });
    await producer.connect();
    this.producer = producer;
    return producer;
  }
}

/*
 * Kafka error types that sending the same message again cannot fix: the
 * message or batch is too large or malformed, the topic name is invalid, or
 * the producer may not write to it. (UNKNOWN_TOPIC_OR_PARTITION is not here:
 * it is what a topic being created answers for a moment.)
 */
const REFUSED_FOR_GOOD = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TOPIC_EXCEPTION',
  'TOPIC_AUTHORIZATION_FAILED',
  'POLICY_VIOLATION',
]);

/** The broker's reason if `error` (or one it wraps) is a refusal for good. */
function refusedForGood(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (let current = error; current && typeof current === 'object' && !seen.has(current);) {
    seen.add(current);
    const { type, message, cause, originalError } = current as { type?: unknown; message?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof type === 'string' && REFUSED_FOR_GOOD.has(type)) return `${type}: ${String(message)}`;
    current = cause ?? originalError;
  }
  return undefined;
}
