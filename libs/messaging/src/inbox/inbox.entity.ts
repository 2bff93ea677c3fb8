import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * Messages a consumer has applied. The row is inserted in the same
 * transaction as the handler's own writes, so "applied" and "recorded as
 * applied" cannot diverge: a redelivery finds the row and is skipped.
 */
@Entity({ name: 'inbox' })
export class InboxRecord {
  /** Kafka consumer group or RabbitMQ queue: two consumers of one event each apply it once. */
  @PrimaryColumn('text')
  consumer!: string;

  /** The envelope id. */
  @PrimaryColumn('text', { name: 'message_id' })
  messageId!: string;

  @Column('timestamptz', { name: 'processed_at', default: () => 'now()' })
  processedAt!: Date;
}
