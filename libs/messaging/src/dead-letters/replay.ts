import { type Channel, type ChannelModel } from 'amqplib';
import type { IHeaders, Kafka, KafkaMessage } from 'kafkajs';
import { DeadLetterHeaders } from '../errors';
import { headersToStrings, withoutInstrumentation } from '../internal/tracing';
import { OUTAGE_RETRY_COUNT_HEADER, RETRY_COUNT_HEADER, TIMEOUT_RETRY_COUNT_HEADER } from '../rabbitmq/rabbitmq-consumer.server';

/** The counts a replay starts again from zero: a replayed message gets every attempt anew. */
const RETRY_COUNTS = new Set([RETRY_COUNT_HEADER, OUTAGE_RETRY_COUNT_HEADER, TIMEOUT_RETRY_COUNT_HEADER]);

/** A dead-lettered message as replay sees it; return a changed copy to fix it on the way back. */
export interface DeadLetter {
  key: string | null;
  body: Buffer;
  headers: Record<string, string>;
}

/** What a replay did. */
export interface ReplayResult {
  replayed: number;
  skipped: number;
}

/** `fix` may rewrite a message, or return null to leave it out (it is then dropped from the DLQ). */
type Fix = (message: DeadLetter) => DeadLetter | null | Promise<DeadLetter | null>;

const stripDeadLetterHeaders = (headers: Record<string, string>): Record<string, string> => {
  const replays = Number(headers[DeadLetterHeaders.replays] ?? 0) + 1;
  const kept = Object.fromEntries(Object.entries(headers).filter(([k]) => !k.startsWith('x-dlq-') && !RETRY_COUNTS.has(k)));
  // The replay count survives, so a message that keeps failing is visible as such.
  return { ...kept, [DeadLetterHeaders.replays]: String(replays) };
};

/** Options of {@link replayKafkaDeadLetters}. */
export interface ReplayKafkaOptions {
  kafka: Kafka;
  /** `<topic>.<group>.dlq`. */
  deadLetterTopic: string;
  /** Consumer group that remembers how far replay got [`<dlq>.replay`]. */
  replayGroupId?: string;
  fix?: Fix;
}

/**
 * Sends every message in a Kafka dead-letter topic, up to its end when the
 * call starts, back to the topic it came from (header `x-dlq-source-topic`),
 * with the same key and the dead-letter headers removed, addressed to the
 * group that dead-lettered it (`x-dlq-replay-for`; other groups skip it). Progress is kept by
 * a consumer group, so a second replay does not resend what the first sent.
 * The message keeps its event id: if it had been applied after all, the
 * consumer's inbox skips it.
 */
export async function replayKafkaDeadLetters(options: ReplayKafkaOptions): Promise<ReplayResult> {
  const { kafka, deadLetterTopic } = options;
  const groupId = options.replayGroupId ?? `${deadLetterTopic}.replay`;
  const admin = kafka.admin();
  await admin.connect();
  const ends = new Map<number, bigint>();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [deadLetterTopic] });
    const done = new Map(committed.partitions.map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
    for (const p of await admin.fetchTopicOffsets(deadLetterTopic)) {
      const from = done.get(p.partition) ?? BigInt(p.low);
      if (BigInt(p.high) > from) ends.set(p.partition, BigInt(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  const result: ReplayResult = { replayed: 0, skipped: 0 };
  if (ends.size === 0) return result;

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const consumer = kafka.consumer({ groupId });
  await producer.connect();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const remaining = new Set(ends.keys());
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined || BigInt(message.offset) >= end) return;
            await replayOne(producer, message, options.fix, result);
            // Committed per message, after the copy is on the source topic.
            await consumer.commitOffsets([{ topic: deadLetterTopic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
            if (BigInt(message.offset) + 1n >= end) {
              remaining.delete(partition);
              if (remaining.size === 0) resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await producer.disconnect();
  }
  return result;
}

async function replayOne(producer: import('kafkajs').Producer, message: KafkaMessage, fix: Fix | undefined, result: ReplayResult): Promise<void> {
  const headers = headersToStrings(message.headers as Record<string, unknown>);
  const source = headers[DeadLetterHeaders.sourceTopic];
  const original: DeadLetter = { key: message.key?.toString() ?? null, body: message.value ?? Buffer.alloc(0), headers };
  const fixed = fix ? await fix(original) : original;
  if (!source || !fixed) {
    result.skipped += 1;
    return;
  }
  // The source topic is shared by every group that reads it; only the group
  // that dead-lettered the message is to get it again.
  const consumer = fixed.headers[DeadLetterHeaders.consumer];
  const replayHeaders = { ...stripDeadLetterHeaders(fixed.headers), ...(consumer ? { [DeadLetterHeaders.replayFor]: consumer } : {}) };
  await withoutInstrumentation(async () => {
    await producer.send({
      topic: source,
      acks: -1,
      messages: [{ key: fixed.key, value: fixed.body, headers: replayHeaders as IHeaders }],
    });
  });
  result.replayed += 1;
}

/** Options of {@link replayRabbitmqDeadLetters}. */
export interface ReplayRabbitmqOptions {
  connection: ChannelModel;
  /** The work queue; its dead letters are read from `<queue>.dlq`. */
  queue: string;
  fix?: Fix;
}

/**
 * Moves the messages now in `<queue>.dlq` back to `<queue>` (persistent, with
 * confirms; each dead letter is acked only after its copy is confirmed), with
 * the retry count reset, so they get every attempt again.
 */
export async function replayRabbitmqDeadLetters(options: ReplayRabbitmqOptions): Promise<ReplayResult> {
  const { connection, queue } = options;
  const dlq = `${queue}.dlq`;
  const reader: Channel = await connection.createChannel();
  const publisher = await connection.createConfirmChannel();
  const result: ReplayResult = { replayed: 0, skipped: 0 };
  try {
    // Only what is there now: messages dead-lettered during the replay wait for the next one.
    const { messageCount } = await reader.checkQueue(dlq);
    for (let i = 0; i < messageCount; i += 1) {
      const msg = await reader.get(dlq, { noAck: false });
      if (!msg) break;
      const headers = headersToStrings(msg.properties.headers as Record<string, unknown>);
      const fixed = options.fix ? await options.fix({ key: null, body: msg.content, headers }) : { key: null, body: msg.content, headers };
      if (fixed) {
        await withoutInstrumentation(async () => {
          publisher.sendToQueue(queue, fixed.body, { ...msg.properties, persistent: true, headers: stripDeadLetterHeaders(fixed.headers) });
          await publisher.waitForConfirms();
        });
        result.replayed += 1;
      } else {
        result.skipped += 1;
      }
      reader.ack(msg);
    }
  } finally {
    await reader.close().catch(() => undefined);
    await publisher.close().catch(() => undefined);
  }
  return result;
}
