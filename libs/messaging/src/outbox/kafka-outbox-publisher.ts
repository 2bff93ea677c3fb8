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
  /**
   * Largest request, in bytes of keys, values and headers: a larger batch
   * goes as several requests, one after the other; default 900,000, under
   * the broker's default `message.max.bytes` (1 MiB per partition's batch).
   */
  maxRequestBytes?: number;
}

/**
 * A message's bytes on the wire besides its key, value and stored headers,
 * rounded up: lengths, offsets and timestamp, and the `traceparent` the
 * publisher adds.
 */
const RECORD_OVERHEAD_BYTES = 160;

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
    const requests = this.requests(messages).map((part) => ({ part, byTopic: new Map<string, Message[]>() }));
    const spans = requests.flatMap(({ part, byTopic }) =>
      part.map((m) => {
        const { span, headers } = startProducerSpan(publishSpanName(m.topic), m.headers, () => ({
          'messaging.system': 'kafka',
          'messaging.destination.name': m.topic,
          'messaging.kafka.message.key': m.key,
          'messaging.operation.type': 'send',
          'conveyor.outbox.id': m.id,
        }));
        const list = byTopic.get(m.topic);
        if (list) list.push({ key: m.key, value: m.payload, headers });
        else byTopic.set(m.topic, [{ key: m.key, value: m.payload, headers }]);
        return span;
      }),
    );
    try {
      await sendTraced(spans, async () => {
        // One request at a time, in row order: the producer has one in flight, so per-key order holds.
        for (const { byTopic } of requests) {
          signal?.throwIfAborted();
          await producer.sendBatch({
            acks: -1,
            timeout: this.options.requestTimeoutMs ?? 10_000,
            compression: CompressionTypes.None,
            topicMessages: [...byTopic].map(([topic, list]) => ({ topic, messages: list })),
          });
        }
      });
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

  /**
   * The messages as the requests they go in, in order: all in one, unless
   * together they pass maxRequestBytes, which the broker would refuse
   * (MESSAGE_TOO_LARGE) though each message alone is fine. A message larger
   * than the bound goes alone, for the broker to refuse or take.
   */
  private requests(messages: PendingOutboxMessage[]): PendingOutboxMessage[][] {
    const limit = this.options.maxRequestBytes ?? 900_000;
    const size = (m: PendingOutboxMessage, bytes: (text: string) => number): number => {
      let total = RECORD_OVERHEAD_BYTES + bytes(m.key) + bytes(m.payload);
      for (const name in m.headers) total += bytes(name) + bytes(m.headers[name]);
      return total;
    };
    // UTF-8 takes at most 3 bytes per UTF-16 unit: a batch under the bound by that count is one request (the usual case).
    let upperBound = 0;
    for (const m of messages) upperBound += size(m, (text) => text.length * 3);
    if (upperBound <= limit) return [messages];
    const parts: PendingOutboxMessage[][] = [];
    let part: PendingOutboxMessage[] = [];
    let bytes = 0;
    for (const m of messages) {
      const own = size(m, Buffer.byteLength);
      if (part.length > 0 && bytes + own > limit) {
        parts.push(part);
        part = [];
        bytes = 0;
      }
      part.push(m);
      bytes += own;
    }
    parts.push(part);
    return parts;
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
