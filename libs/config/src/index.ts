export { ConfigError, type ConfigProblem } from './config-error';
export { envField } from './env-fields';
export {
  httpServerEnv,
  kafkaConsumerEnv,
  kafkaEnv,
  locksEnv,
  outboxEnv,
  postgresEnv,
  rabbitmqConsumerEnv,
  rabbitmqEnv,
  redisEnv,
  telemetryEnv,
} from './env-schemas';
export { loadConfig, parseEnv } from './load-config';
export { APP_CONFIG, ConfigModule, InjectConfig } from './config.module';
