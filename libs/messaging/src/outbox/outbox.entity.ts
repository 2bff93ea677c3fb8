import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One message waiting to be published. Written in the same transaction as the
 * state change it announces; read only by the relay, which moves it to
 * `outbox_published` once the broker confirmed it (the view `outbox_messages`
 * shows both). The tables are created by `outboxMigrations`, never by
 * `synchronize`.
 */
@Entity({ name: 'outbox' })
export class OutboxRecord {
  /** bigserial: the relay's order, and with it the per-key publish order. */
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id!: string;

  @Column('text')
  destination!: 'kafka' | 'rabbitmq';

  /** Kafka topic, or RabbitMQ exchange. */
  @Column('text')
  topic!: string;

  /** RabbitMQ routing key; null for Kafka. */
  @Column('text', { name: 'routing_key', nullable: true })
  routingKey!: string | null;

  /** Kafka message key and the unit of ordering (the aggregate id). */
  @Column('text', { name: 'message_key' })
  messageKey!: string;

  /** The serialized message body, published byte for byte. */
  @Column('text')
  payload!: string;

  /** Message headers, `traceparent` of the writing request included. */
  @Column('jsonb', { default: () => "'{}'::jsonb" })
  headers!: Record<string, string>;

  @Column('timestamptz', { name: 'created_at', default: () => 'clock_timestamp()' })
  createdAt!: Date;

  /** Publish attempts the broker refused for good (see `OutboxRelayOptions.maxPublishAttempts`). */
  @Column('int', { default: 0 })
  attempts!: number;

  /** Why the broker refused it, from the last refusal. */
  @Column('text', { name: 'park_reason', nullable: true })
  parkReason!: string | null;

  /** Set when the row was parked: it and the later rows of its key wait for `unparkOutboxRows`. */
  @Column('timestamptz', { name: 'parked_at', nullable: true })
  parkedAt!: Date | null;
}
