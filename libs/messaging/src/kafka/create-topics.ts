import { KafkaJSError, type Admin, type ITopicConfig } from 'kafkajs';
import { sleep } from '../internal/backoff';

/**
 * Creates those of `topics` that do not exist yet and resolves once the
 * broker serves every partition of each, or fails after `timeoutMs`.
 * kafkajs's own `waitForLeaders` reads the metadata, and a KRaft broker
 * publishes a new topic's metadata before it hosts the partitions
 * (KAFKA-15780): what a broker started moments ago shows, for a service
 * started beside it or a test run right after `infra up`. ListOffsets is
 * answered by each partition's leader only once it hosts the partition;
 * until then it fails with an error kafkajs calls retriable ("not the
 * leader", "does not host this topic-partition"), and it is asked again.
 */
export async function createKafkaTopics(admin: Admin, topics: ITopicConfig[], { timeoutMs = 30_000 } = {}): Promise<void> {
  // Resolves false, without an error, when every topic exists already.
  await admin.createTopics({ topics, waitForLeaders: false });
  const deadline = Date.now() + timeoutMs;
  for (const { topic } of topics) {
    for (;;) {
      const served = await admin.fetchTopicOffsets(topic).then(
        () => true,
        (error: unknown) => {
          if (error instanceof KafkaJSError && error.retriable && Date.now() < deadline) return false;
          throw error;
        },
      );
      if (served) break;
      await sleep(100);
    }
  }
}
