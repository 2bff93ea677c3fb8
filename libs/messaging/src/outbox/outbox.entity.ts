import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One message waiting to be published (or recently published). Written in the
 * same transaction as the state change it announces; read only by the relay.
 * The table is created by {@link CreateOutboxTable}, never by `synchronize`.
 */
@Entity({ name: 'outbox' })
@Index('outbox_pending_idx', ['id'], { where: 'published_at IS NULL' })
@Index('outbox_pending_key_idx', ['messageKey', 'id'], { where: 'published_at IS NULL' })
@Index('outbox_published_at_idx', ['publishedAt'], { where: 'published_at IS NOT NULL' })
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

  @Column('timestamptz', { name: 'published_at', nullable: true })
  publishedAt!: Date | null;
}
