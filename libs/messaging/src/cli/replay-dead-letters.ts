// Moves dead-lettered messages back to their source, once the cause is fixed.
//
//   node -r @swc-node/register libs/messaging/src/cli/replay-dead-letters.ts kafka <topic>.<group>.dlq
//   node -r @swc-node/register libs/messaging/src/cli/replay-dead-letters.ts rabbitmq <queue>
//
// Brokers come from KAFKA_BROKERS / RABBITMQ_URL (same variables as the
// services). Prints what it did as one JSON line; exit 64 on bad usage.
import { kafkaEnv, loadConfig, rabbitmqEnv } from '@conveyor/config';
import { connect } from 'amqplib';
import { Kafka, logLevel } from 'kafkajs';
import { replayKafkaDeadLetters, replayRabbitmqDeadLetters } from '../dead-letters/replay';

async function main(): Promise<void> {
  const [broker, name] = process.argv.slice(2);
  if ((broker !== 'kafka' && broker !== 'rabbitmq') || !name) {
    process.stderr.write('usage: replay-dead-letters kafka <dead-letter topic> | rabbitmq <work queue>\n');
    process.exit(64);
  }
  if (broker === 'kafka') {
    const config = loadConfig('replay-dead-letters', kafkaEnv);
    const kafka = new Kafka({ clientId: config.KAFKA_CLIENT_ID ?? 'replay-dead-letters', brokers: config.KAFKA_BROKERS, logLevel: logLevel.WARN });
    const result = await replayKafkaDeadLetters({ kafka, deadLetterTopic: name });
    process.stdout.write(`${JSON.stringify({ broker, deadLetterTopic: name, ...result })}\n`);
    return;
  }
  const config = loadConfig('replay-dead-letters', rabbitmqEnv);
  const connection = await connect(config.RABBITMQ_URL);
  try {
    const result = await replayRabbitmqDeadLetters({ connection, queue: name });
    process.stdout.write(`${JSON.stringify({ broker, queue: name, ...result })}\n`);
  } finally {
    await connection.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`replay failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
