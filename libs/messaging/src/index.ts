export { OutboxRecord } from './outbox/outbox.entity';
export { InboxRecord } from './inbox/inbox.entity';
export { InboxRetention, InboxRetentionJob, inboxRetentionLock, type InboxRetentionOptions } from './inbox/inbox-retention';
export {
  CreateInboxTable1764000000001,
  CreateOutboxTable1764000000000,
  messagingMigrations,
  OutboxIdAfterTransactionId1764000000005,
  outboxMigrations,
  ParkOutboxKeysPerDestination1764000000004,
  ParkOutboxRows1764000000003,
  SplitPublishedOutbox1764000000002,
} from './migrations';
export {
  addToOutbox,
  eventMessage,
  MessageHeaders,
  OUTBOX_CHANNEL,
  OutboxOutsideTransactionError,
  type OutboxDestination,
  type OutboxMessage,
} from './outbox/outbox';
export type { OutboxPublisher, PendingOutboxMessage } from './outbox/outbox-publisher';
export { KafkaOutboxPublisher, type KafkaOutboxPublisherOptions } from './outbox/kafka-outbox-publisher';
export { RabbitmqOutboxPublisher, type RabbitmqOutboxPublisherOptions } from './outbox/rabbitmq-outbox-publisher';
export { OutboxRelay, type OutboxRelayMode, type OutboxRelayOptions } from './outbox/outbox-relay';
export { OutboxCdcRelay, type OutboxCdcRelayOptions } from './outbox/outbox-cdc-relay';
export { outboxStats } from './outbox/relay/metrics';
export { unparkOutboxRows } from './outbox/relay/parking';
export { DeadLetterHeaders, InvalidMessageError, MessageTimedOutError, PermanentMessageError, UnpublishableMessageError } from './errors';
export { MessageContext } from './message-context';
export { classifyFailure, type FailureKind } from './internal/failure-policy';
export { MessageConsumer, RethrowToConsumerFilter } from './handler-invocation';
export { createKafkaTopics } from './kafka/create-topics';
export { KafkaConsumerServer, kafkaDeadLetterTopic, type KafkaConsumerOptions } from './kafka/kafka-consumer.server';
export {
  declareRabbitmqQueue,
  declareRabbitmqTopology,
  RabbitmqConsumerServer,
  rabbitmqQueues,
  RETRY_COUNT_HEADER,
  type RabbitmqConsumerOptions,
  type RabbitmqQueueBinding,
} from './rabbitmq/rabbitmq-consumer.server';
export {
  replayKafkaDeadLetters,
  replayRabbitmqDeadLetters,
  type DeadLetter,
  type ReplayKafkaOptions,
  type ReplayRabbitmqOptions,
  type ReplayResult,
} from './dead-letters/replay';
export { serviceKafka, type KafkaClientConfig } from './nest/kafka-client';
export { BrokerHealth } from './nest/broker-health';
export { OutboxModule, OutboxRelays, type OutboxConfig, type OutboxModuleOptions } from './nest/outbox.module';
export {
  CONSUMER_TOKENS,
  KAFKA_CONSUMER,
  KafkaConsumerModule,
  RABBITMQ_CONSUMER,
  RabbitmqConsumerModule,
  type ConsumerStrategy,
  type KafkaConsumerModuleOptions,
  type RabbitmqConsumerModuleOptions,
} from './nest/consumer.modules';
