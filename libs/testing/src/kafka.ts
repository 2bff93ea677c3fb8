import { Kafka, KafkaJSError, logLevel } from 'kafkajs';
import { localServers } from './local-servers';
import { uniqueName } from './unique-names';
import { eventually } from './wait';

/** A kafkajs client for the local broker; quiet unless something is wrong. */
export function testKafka(clientId = uniqueName('client')): Kafka {
  return new Kafka({
    clientId,
    brokers: localServers().KAFKA_BROKERS,
    logLevel: logLevel.ERROR,
    retry: { retries: 5, initialRetryTime: 200 },
  });
}

/**
 * Creates a topic only this test run uses and waits until the broker serves
 * every partition: until ListOffsets, which only a partition's leader
 * answers, stops failing with a retriable error. Waiting for leaders in the
 * metadata is not enough on a broker started moments ago (see
 * createKafkaTopics in libs/messaging, which this library cannot import).
 */
export async function createTestTopic(kafka: Kafka, prefix: string, partitions = 3): Promise<string> {
  const topic = uniqueName(prefix);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: false });
    await eventually(
      () => admin.fetchTopicOffsets(topic).catch((error: unknown) => (error instanceof KafkaJSError && error.retriable ? undefined : Promise.reject(error))),
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `topic ${topic} to be served`,
      },
    );
  } finally {
    await admin.disconnect();
  }
  return topic;
}
