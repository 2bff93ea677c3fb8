import { Kafka, logLevel } from 'kafkajs';

/** The config fields a service's kafkajs clients are built from (`kafkaEnv` of @conveyor/config). */
export interface KafkaClientConfig {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID?: string;
}

/** A kafkajs client of `serviceName` for one `purpose` (outbox, consumer, health), quiet unless something is wrong. */
export function serviceKafka(config: KafkaClientConfig, serviceName: string, purpose: string): Kafka {
  return new Kafka({
    clientId: `${config.KAFKA_CLIENT_ID ?? serviceName}-${purpose}`,
    brokers: config.KAFKA_BROKERS,
    logLevel: logLevel.ERROR,
    retry: { retries: 3, initialRetryTime: 200 },
  });
}
