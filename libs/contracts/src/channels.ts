import type { z } from 'zod';
import { catalogEventSchema, ProductPublished, ProductUpdated } from './catalog.events';
import { Exchanges, Queues, RoutingKeys, Topics } from './destinations';
import type { EventContract } from './envelope';
import { notificationCommandSchema, SendPush, SendSms } from './notification.commands';
import { OrderCancelled, OrderPaid, OrderPaymentFailed, orderEventSchema } from './order.events';
import { PointsAwarded, PointsExpired, pointsEventSchema } from './points.events';

// Each contract's own payload type varies; a catalogue of them is read, never called with a typed payload.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyContract = EventContract<string, any>;

/** One place messages go: a Kafka topic, or a RabbitMQ exchange with one routing key. */
export type ChannelContract = {
  /** The channel's id in the AsyncAPI document. */
  readonly id: string;
  readonly description: string;
  /** What the message key (Kafka key; `aggregateId` of the envelope) is. */
  readonly key: string;
  /** Every message a producer may send on it. */
  readonly messages: readonly AnyContract[];
  /** The schema a consumer of the channel registers (a union over `messages`). */
  readonly consumerSchema: z.ZodType;
} & (
  | { readonly broker: 'kafka'; readonly topic: string }
  | { readonly broker: 'rabbitmq'; readonly exchange: string; readonly routingKey: string; readonly queue: string }
);

/**
 * Every channel of the system and the messages each carries: the source of
 * the AsyncAPI document (libs/contracts/src/asyncapi.json, `make contracts`)
 * and of the check that every consumed message has a producer. A message
 * belongs to exactly one channel.
 */
export const Channels: readonly ChannelContract[] = [
  {
    id: 'catalogEvents',
    broker: 'kafka',
    topic: Topics.catalogEvents,
    description: 'The catalog: a product published, or its whole new state after a change.',
    key: 'product id',
    messages: [ProductPublished, ProductUpdated],
    consumerSchema: catalogEventSchema,
  },
  {
    id: 'orderEvents',
    broker: 'kafka',
    topic: Topics.orderEvents,
    description: 'What happened to an order once the payment was decided: paid, payment failed, cancelled.',
    key: 'order id',
    messages: [OrderPaid, OrderPaymentFailed, OrderCancelled],
    consumerSchema: orderEventSchema,
  },
  {
    id: 'pointsEvents',
    broker: 'kafka',
    topic: Topics.pointsEvents,
    description: "A customer's points: credited, or expired unspent.",
    key: 'customer (user) id',
    messages: [PointsAwarded, PointsExpired],
    consumerSchema: pointsEventSchema,
  },
  {
    id: 'notificationPush',
    broker: 'rabbitmq',
    exchange: Exchanges.notificationCommands,
    routingKey: RoutingKeys.sendPush,
    queue: Queues.notificationSend,
    description: 'Commands to send one push notification, once.',
    key: 'recipient id',
    messages: [SendPush],
    consumerSchema: notificationCommandSchema,
  },
  {
    id: 'notificationSms',
    broker: 'rabbitmq',
    exchange: Exchanges.notificationCommands,
    routingKey: RoutingKeys.sendSms,
    queue: Queues.notificationSend,
    description: 'Commands to send one SMS, once.',
    key: 'recipient id',
    messages: [SendSms],
    consumerSchema: notificationCommandSchema,
  },
];
