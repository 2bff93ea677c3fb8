import { envField, kafkaEnv, parseEnv, postgresEnv, rabbitmqEnv, redisEnv, telemetryEnv } from '@conveyor/config';
import { z } from 'zod';

const localServersEnv = postgresEnv
  .merge(redisEnv)
  .merge(rabbitmqEnv)
  .merge(kafkaEnv)
  .merge(telemetryEnv)
  .extend({ JAEGER_QUERY_URL: envField.url('http://127.0.0.1:16686') });

export type LocalServers = z.output<typeof localServersEnv>;

/**
 * Where the real servers of deploy/local/infra listen, from the same variables
 * the services read (defaults: the infra's default ports on 127.0.0.1).
 */
export function localServers(env: Record<string, string | undefined> = process.env): LocalServers {
  return parseEnv('tests', localServersEnv, env);
}
