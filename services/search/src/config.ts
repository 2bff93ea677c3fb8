import { authEnv, envField, httpServerEnv, kafkaConsumerEnv, kafkaEnv, loadConfig, postgresEnv, telemetryEnv } from '@conveyor/config';
import { z } from 'zod';

export const SERVICE_NAME = 'search';

/** Every knob of search, with its default (docs/search-service.md lists them). */
export const searchEnv = httpServerEnv(3004)
  .merge(telemetryEnv)
  .merge(authEnv)
  .merge(postgresEnv)
  .merge(kafkaEnv)
  .merge(kafkaConsumerEnv)
  .extend({
    /** The service's own database. */
    POSTGRES_DB: envField.string('conveyor_search'),
    /** Kafka topic its consumer reads (tests give each run its own). */
    SEARCH_KAFKA_TOPIC: envField.string('catalog.events'),
  });

export type SearchConfig = z.output<typeof searchEnv>;

/** Validated once at start-up; a bad variable ends the process before it listens. */
export const config: SearchConfig = loadConfig(SERVICE_NAME, searchEnv);
