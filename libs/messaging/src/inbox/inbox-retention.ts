import { LeaseScheduledJob, type Lease, type LeaseLocks } from '@conveyor/locks';
import { deleteInBatches } from '@conveyor/persistence';
import type { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';

/** How long one consumer's inbox rows are kept, and how they are deleted. Defaults match `kafkaConsumerEnv` / `rabbitmqConsumerEnv`. */
export interface InboxRetentionOptions {
  /** The inbox's `consumer`: Kafka group id or RabbitMQ queue. Only its rows are deleted. */
  consumer: string;
  /**
   * Rows older than this are deleted [8 days]. Must cover the longest window
   * in which an applied message can be delivered again, or the redelivery is
   * applied twice: for Kafka the topics' retention (7 days by default; a
   * group reset to the earliest offset re-reads all of it).
   */
  retentionMs: number;
  /** Rows per DELETE statement (each its own short transaction) [5,000]. */
  batchSize: number;
  /** From the end of one run to the start of the next; 0 turns the job off in this process [10 min]. */
  intervalMs: number;
}

/**
 * Deletes a consumer's inbox rows past the retention, oldest first, a batch
 * per statement, until none is left or the lease is lost. One replica at a
 * time (the lease); no fencing: deleting an expired row is the same whoever
 * does it, and a stale holder deleting it again deletes nothing. Rows removed
 * are counted on `/metrics` as `retention_rows_deleted_total{table="inbox"}`.
 */
export class InboxRetention {
  constructor(
    private readonly dataSource: DataSource,
    private readonly options: Pick<InboxRetentionOptions, 'consumer' | 'retentionMs' | 'batchSize'>,
    private readonly metrics?: Registry,
  ) {}

  /** Deletes the rows past the retention; returns how many. */
  purge(lease?: Pick<Lease, 'signal'>): Promise<number> {
    return deleteInBatches(this.dataSource, {
      table: 'inbox',
      key: ['consumer', 'message_id'],
      // Along inbox_processed_at_idx.
      where: `consumer = $1 AND processed_at < now() - ($2::bigint * interval '1 millisecond')`,
      parameters: [this.options.consumer, this.options.retentionMs],
      orderBy: 'processed_at',
      batchSize: this.options.batchSize,
      signal: lease?.signal,
      metrics: this.metrics,
    });
  }
}

/** The lock name of a consumer's inbox retention job. */
export const inboxRetentionLock = (consumer: string): string => `inbox-retention:${consumer}`;

/**
 * {@link InboxRetention} as a singleton job: every replica schedules it, the
 * lease lets one run at a time. The consumer modules register it for every
 * consumer that keeps an inbox.
 */
export class InboxRetentionJob extends LeaseScheduledJob<number> {
  constructor(
    locks: LeaseLocks,
    private readonly retention: InboxRetention,
    options: Pick<InboxRetentionOptions, 'consumer' | 'intervalMs'>,
  ) {
    super(locks, { lockName: inboxRetentionLock(options.consumer), intervalMs: options.intervalMs });
  }

  protected async run(lease: Lease): Promise<number> {
    const deleted = await this.retention.purge(lease);
    if (deleted > 0) this.logger.log({ deleted }, 'inbox rows past the retention deleted');
    return deleted;
  }
}
