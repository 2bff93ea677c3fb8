import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { DataSource, type EntityManager } from 'typeorm';
import type { MonthPartition } from './domain/view-partitions';

/**
 * The monthly partitions of `view_daily` as tables: created ahead, listed,
 * detached, read out and dropped. Partition names come from
 * domain/view-partitions.ts or from pg_class, never from a request.
 */
@Injectable()
export class ViewPartitionsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Creates the partition if it is missing; answers whether it was missing. */
  async createIfMissing(partition: MonthPartition): Promise<boolean> {
    const [exists]: unknown[] = await this.dataSource.query('SELECT 1 FROM pg_class WHERE relname = $1', [partition.name]);
    if (exists) return false;
    // Concurrent creators: the loser's IF NOT EXISTS is a no-op.
    await this.dataSource.query(
      `CREATE TABLE IF NOT EXISTS ${partition.name} PARTITION OF view_daily FOR VALUES FROM ('${partition.from}') TO ('${partition.to}')`,
    );
    return true;
  }

  /** Every table named like a month's partition, attached or left detached by an interrupted run, by name. */
  async tables(): Promise<{ name: string; attached: boolean }[]> {
    const rows: { relname: string; relispartition: boolean }[] = await this.dataSource.query(
      `SELECT relname, relispartition FROM pg_class WHERE relkind = 'r' AND relname LIKE 'view\\_daily\\_%' AND relnamespace = 'public'::regnamespace ORDER BY relname`,
    );
    return rows.map((row) => ({ name: row.relname, attached: row.relispartition }));
  }

  async detach(manager: EntityManager, name: string): Promise<void> {
    await manager.query(`ALTER TABLE view_daily DETACH PARTITION ${name}`);
  }

  async drop(manager: EntityManager, name: string): Promise<void> {
    await manager.query(`DROP TABLE ${name}`);
  }

  /** Streams the table's rows (`day`, `product_id`, `views`, in that order) from a cursor into `consume`, on one connection held until it is done. */
  async streamRows(name: string, consume: (rows: Readable) => Promise<void>): Promise<void> {
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      await consume(
        client.query(new QueryStream(`SELECT day::text AS day, product_id, views FROM ${name} ORDER BY day, product_id`, [], { batchSize: 1_000 })),
      );
    } finally {
      await runner.release();
    }
  }
}
