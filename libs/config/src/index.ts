export { ConfigError, type ConfigProblem } from './config-error';
export { envField, secretFields, type SecretRule } from './env-fields';
export {
  authEnv,
  destinationsEnv,
  httpServerEnv,
  kafkaConsumerEnv,
  kafkaEnv,
  locksEnv,
  outboxEnv,
  postgresEnv,
  postgresReplicaEnv,
  rabbitmqConsumerEnv,
  rabbitmqEnv,
  redisEnv,
  telemetryEnv,
} from './env-schemas';
export { Clock } from './clock';
export { loadConfig, parseEnv, productionMode } from './load-config';
export { APP_CONFIG, ConfigModule, InjectConfig } from './config.module';
