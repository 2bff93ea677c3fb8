import { Channels, type ChannelContract } from '@conveyor/contracts';
import { z } from 'zod';
import type { Inventory } from './inventory';

/** A JSON object of the document (its shape is AsyncAPI's; @asyncapi/parser checks it). */
type Json = Record<string, unknown>;

const KAFKA_BINDING = '0.5.0';
const AMQP_BINDING = '0.3.0';

/** The headers the outbox writes on every message (libs/messaging `MessageHeaders`), and the W3C trace context it carries. */
const messageHeaders: Json = {
  type: 'object',
  properties: {
    'message-id': { type: 'string', format: 'uuid', description: 'The envelope id: what consumers deduplicate on (inbox).' },
    'event-type': { type: 'string', description: 'The envelope type, so a consumer can route before parsing the body.' },
    traceparent: {
      type: 'string',
      pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
      description: 'W3C trace context of the write that produced the message; the consumer span continues it.',
    },
    tracestate: { type: 'string', description: 'W3C vendor trace state, when the writer had one.' },
  },
  required: ['message-id', 'event-type'],
};

/** The message's envelope as JSON Schema, from its zod schema: what a producer must send. */
function payloadSchema(schema: z.ZodType): Json {
  // The dialect is the document's (AsyncAPI Schema, a superset of draft 7), not restated per payload.
  const json = z.toJSONSchema(schema, { target: 'draft-07', io: 'input', unrepresentable: 'any' }) as Json;
  delete json['$schema'];
  return json;
}

function channelBindings(channel: ChannelContract): Json {
  if (channel.broker === 'kafka') return { kafka: { topic: channel.topic, bindingVersion: KAFKA_BINDING } };
  return {
    amqp: {
      is: 'routingKey',
      exchange: { name: channel.exchange, type: 'topic', durable: true, autoDelete: false, vhost: '/' },
      bindingVersion: AMQP_BINDING,
    },
  };
}

function messageBindings(channel: ChannelContract): Json {
  if (channel.broker === 'kafka') return { kafka: { key: { type: 'string', description: channel.key }, bindingVersion: KAFKA_BINDING } };
  return { amqp: { contentEncoding: 'utf-8', messageType: channel.routingKey, bindingVersion: AMQP_BINDING } };
}

const list = (names: string[]) => (names.length ? names.join(', ') : 'nobody');

/**
 * The AsyncAPI 3.0 document of every channel in libs/contracts: address,
 * bindings (Kafka topic and key; RabbitMQ exchange and routing key), headers,
 * each message's payload schema from its zod schema, and one operation per
 * service that sends or receives on a channel, as the inventory read them in
 * the code. Deterministic: the same contracts and code give the same text.
 */
export function buildAsyncApiDocument(inventory: Inventory): Json {
  const channels: Json = {};
  const operations: Json = {};
  const messages: Json = {};
  for (const channel of Channels) {
    const types = channel.messages.map((m) => m.type);
    const users = (uses: Inventory['produced']) => [...new Set(uses.filter((u) => types.includes(u.type)).map((u) => u.service))].sort();
    const producers = users(inventory.produced);
    const consumers = users(inventory.consumed);
    const address = channel.broker === 'kafka' ? channel.topic : channel.routingKey;
    const where =
      channel.broker === 'kafka'
        ? `Kafka topic \`${channel.topic}\`, key = ${channel.key}; a consumer group's dead letters go to \`${channel.topic}.<group>.dlq\`.`
        : `RabbitMQ exchange \`${channel.exchange}\` (topic), routing key \`${channel.routingKey}\`, message key (aggregateId) = ${channel.key}; consumed from queue \`${channel.queue}\`, dead letters in \`${channel.queue}.dlq\`.`;
    channels[channel.id] = {
      address,
      title: channel.id,
      description: `${channel.description} ${where} Produced by ${list(producers)}; consumed by ${list(consumers)}.`,
      servers: [{ $ref: `#/servers/${channel.broker}` }],
      messages: Object.fromEntries(types.map((type) => [type, { $ref: `#/components/messages/${type}` }])),
      bindings: channelBindings(channel),
      'x-producers': producers,
      'x-consumers': consumers,
    };
    for (const contract of channel.messages) {
      messages[contract.type] = {
        name: contract.type,
        title: `${contract.type} v${contract.version}`,
        contentType: 'application/json',
        headers: { $ref: '#/components/schemas/MessageHeaders' },
        payload: payloadSchema(contract.schema),
        bindings: messageBindings(channel),
      };
    }
    const operation = (service: string, action: 'send' | 'receive', uses: Inventory['produced']) => {
      const mine = [...new Set(uses.filter((u) => u.service === service && types.includes(u.type)).map((u) => u.type))].sort();
      operations[`${service}_${action}_${channel.id}`] = {
        action,
        channel: { $ref: `#/channels/${channel.id}` },
        summary: `${service} ${action === 'send' ? 'writes to its outbox' : 'handles'}: ${mine.join(', ')}`,
        messages: mine.map((type) => ({ $ref: `#/channels/${channel.id}/messages/${type}` })),
        'x-service': service,
      };
    };
    for (const service of producers) operation(service, 'send', inventory.produced);
    for (const service of consumers) operation(service, 'receive', inventory.consumed);
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Conveyor events and commands',
      version: '1.0.0',
      description:
        'Every message the services exchange through Kafka and RabbitMQ. Generated by `make contracts` from libs/contracts ' +
        '(channels, zod schemas) and from the handlers and outbox writes in services/; do not edit. Each service serves ' +
        'its own part at GET /asyncapi.json. Messages are envelopes { id, type, version, occurredAt, aggregateId, payload }, ' +
        'written through the transactional outbox and consumed at least once, applied once (docs/messaging.md).',
    },
    defaultContentType: 'application/json',
    servers: {
      kafka: { host: '127.0.0.1:9092', protocol: 'kafka', description: 'Local Kafka (deploy/local/infra); KAFKA_BROKERS elsewhere.' },
      rabbitmq: { host: '127.0.0.1:5672', protocol: 'amqp', description: 'Local RabbitMQ (deploy/local/infra); RABBITMQ_URL elsewhere.' },
    },
    channels,
    operations,
    components: { schemas: { MessageHeaders: messageHeaders }, messages },
  };
}
