import { randomBytes } from 'node:crypto';

/**
 * One id per test process. Every topic, queue, database and key a test
 * creates carries it, so parallel or repeated runs never see each other's data.
 */
export const TEST_RUN_ID = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

let counter = 0;

/**
 * A name no other test run uses: `<prefix>_<run id>_<n>`, lower case, made of
 * characters that PostgreSQL, Kafka, RabbitMQ and Redis all accept.
 */
export function uniqueName(prefix: string): string {
  const safePrefix = prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  counter += 1;
  return `t_${safePrefix}_${TEST_RUN_ID}_${counter}`;
}
