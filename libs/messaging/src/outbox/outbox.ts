import { context, propagation } from '@opentelemetry/api';
import type { EntityManager } from 'typeorm';
import type { EventEnvelope } from '@conveyor/contracts';

/** Where a message goes: a Kafka topic, or a RabbitMQ exchange with a routing key. */
export type OutboxDestination = { kind: 'kafka'; topic: string } | { kind: 'rabbitmq'; exchange: string; routingKey: string };

/** A message to publish once the caller's transaction commits. */
export interface OutboxMessage {
  destination: OutboxDestination;
  /** Ordering key (aggregate id): messages with one key are published in the order they were added. */
  key: string;
  /** An object is serialized as JSON; a string is sent as it is. */
  payload: unknown;
  headers?: Record<string, string>;
}

/** Header names the outbox and the consumers agree on. */
export const MessageHeaders = {
  messageId: 'message-id',
  eventType: 'event-type',
  traceparent: 'traceparent',
  tracestate: 'tracestate',
} as const;

/** An outbox message for an event envelope: keyed by its aggregate, with its id and type in headers. */
export function eventMessage(destination: OutboxDestination, event: EventEnvelope): OutboxMessage {
  return {
    destination,
    key: event.aggregateId,
    payload: event,
    headers: { [MessageHeaders.messageId]: event.id, [MessageHeaders.eventType]: event.type },
  };
}

/**
 * The channel `addToOutbox` notifies on when it commits, with the
 * destination kind (`kafka`, `rabbitmq`) as payload: the wake-up of the
 * notify relay (OUTBOX_RELAY=notify).
 */
export const OUTBOX_CHANNEL = 'outbox';

/** Thrown when the outbox is written outside a transaction, where it would lose its whole point. */
export class OutboxOutsideTransactionError extends Error {
  readonly code = 'OUTBOX.NO_TRANSACTION';
  constructor() {
    super('addToOutbox needs the EntityManager of an open transaction (dataSource.transaction(manager => …))');
    this.name = 'OutboxOutsideTransactionError';
  }
}

/**
 * Stores messages in the outbox inside the caller's transaction: they are
 * published if and only if that transaction commits. The `traceparent` of the
 * active span is saved with each row, so the relay can continue the trace.
 *
 * The same statement notifies {@link OUTBOX_CHANNEL} once per destination
 * kind it wrote. PostgreSQL delivers a transaction's notifications only when
 * it commits, and folds identical ones (same channel and payload) into one,
 * so a transaction wakes a relay once per kind however many rows or calls it
 * made, and a rolled-back one never does.
 */
export async function addToOutbox(manager: EntityManager, messages: OutboxMessage | OutboxMessage[]): Promise<void> {
  if (!manager.queryRunner?.isTransactionActive) throw new OutboxOutsideTransactionError();
  const list = Array.isArray(messages) ? messages : [messages];
  if (list.length === 0) return;
  const trace: Record<string, string> = {};
  propagation.inject(context.active(), trace);
  // One statement for any number of rows (unnest of parallel arrays), in list order, so ids follow it.
  await manager.query(
    `WITH inserted AS (
       INSERT INTO outbox (destination, topic, routing_key, message_key, payload, headers)
       SELECT d, t, r, k, p, h FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[]) WITH ORDINALITY AS m(d, t, r, k, p, h, n)
       ORDER BY n
       RETURNING destination
     )
     SELECT pg_notify('${OUTBOX_CHANNEL}', destination) FROM (SELECT DISTINCT destination FROM inserted) kinds`,
    [
      list.map((m) => m.destination.kind),
      list.map((m) => (m.destination.kind === 'kafka' ? m.destination.topic : m.destination.exchange)),
      list.map((m) => (m.destination.kind === 'rabbitmq' ? m.destination.routingKey : null)),
      list.map((m) => m.key),
      list.map((m) => (typeof m.payload === 'string' ? m.payload : JSON.stringify(m.payload))),
      list.map((m) => JSON.stringify({ ...m.headers, ...trace })),
    ],
  );
}
