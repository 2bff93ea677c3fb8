import { InjectConfig } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { inTransaction } from '@conveyor/persistence';
import { Injectable, Logger } from '@nestjs/common';
import { stringify } from 'csv-stringify';
import { mkdir, rename } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { PoolClient } from 'pg';
import QueryStream from 'pg-query-stream';
import { DataSource } from 'typeorm';
import type { SearchConfig } from '../config';

export const PARTITIONS_LOCK = 'search-view-partitions';

const PARTITION_NAME = /^view_daily_(\d{4})_(\d{2})$/;
/** First day of the month `offset` months after `day`'s, UTC. */
const monthStart = (day: Date, offset = 0): Date => new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth() + offset, 1));
const isoDay = (day: Date): string => day.toISOString().slice(0, 10);
const partitionName = (month: Date): string => `view_daily_${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;

export interface PartitionMaintenance {
  created: string[];
  archived: { partition: string; file: string }[];
}

/**
 * The monthly partitions of `view_daily` (declarative range partitioning on
 * `day`): months ahead are created before rows need them; months past the
 * retention are detached, written out as `<partition>.csv.gz` (streamed from a
 * cursor through csv-stringify and gzip, renamed into place when complete),
 * then dropped. A crash between those steps leaves a detached table that the
 * next run archives and drops; the file is rewritten whole, never appended.
 */
@Injectable()
export class ViewPartitionsService {
  private readonly log = new Logger(PARTITIONS_LOCK);

  constructor(
    private readonly dataSource: DataSource,
    @InjectConfig() private readonly config: SearchConfig,
  ) {}

  /** Creates the partition holding `day` if it is missing (the view flush calls this for today). */
  async ensurePartitionFor(day: Date): Promise<string | undefined> {
    const month = monthStart(day);
    const name = partitionName(month);
    const [exists]: unknown[] = await this.dataSource.query('SELECT 1 FROM pg_class WHERE relname = $1', [name]);
    if (exists) return undefined;
    // Concurrent creators: the loser's IF NOT EXISTS is a no-op.
    await this.dataSource.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF view_daily FOR VALUES FROM ('${isoDay(month)}') TO ('${isoDay(monthStart(month, 1))}')`,
    );
    return name;
  }

  /** One run of the job at `now` (tests pass their own date). */
  async maintain(lease: Lease, now = new Date()): Promise<PartitionMaintenance> {
    const created: string[] = [];
    for (let ahead = 0; ahead <= this.config.SEARCH_PARTITIONS_AHEAD_MONTHS; ahead += 1) {
      const name = await this.ensurePartitionFor(monthStart(now, ahead));
      if (name) created.push(name);
    }
    const oldestKept = monthStart(now, -(this.config.SEARCH_VIEWS_RETENTION_MONTHS - 1));
    const archived: PartitionMaintenance['archived'] = [];
    for (const { name, attached } of await this.partitionsBefore(oldestKept)) {
      if (lease.signal.aborted) break;
      archived.push({ partition: name, file: await this.archive(lease, name, attached) });
    }
    if (created.length || archived.length) this.log.log({ created, archived: archived.map((a) => a.partition) }, 'view partitions maintained');
    return { created, archived };
  }

  /** Tables named like a month's partition older than `month`, attached or left detached by an interrupted run. */
  private async partitionsBefore(month: Date): Promise<{ name: string; attached: boolean }[]> {
    const rows: { relname: string; relispartition: boolean }[] = await this.dataSource.query(
      `SELECT relname, relispartition FROM pg_class WHERE relkind = 'r' AND relname LIKE 'view\\_daily\\_%' AND relnamespace = 'public'::regnamespace ORDER BY relname`,
    );
    return rows
      .filter((row) => {
        const match = PARTITION_NAME.exec(row.relname);
        return match !== null && Date.UTC(Number(match[1]), Number(match[2]) - 1, 1) < month.getTime();
      })
      .map((row) => ({ name: row.relname, attached: row.relispartition }));
  }

  private async archive(lease: Lease, name: string, attached: boolean): Promise<string> {
    if (attached) {
      await inTransaction(this.dataSource, async (manager) => {
        await fencedWrite(manager, PARTITIONS_LOCK, lease.fencingToken);
        await manager.query(`ALTER TABLE view_daily DETACH PARTITION ${name}`);
      });
    }
    await mkdir(this.config.SEARCH_ARCHIVE_DIR, { recursive: true });
    const file = join(this.config.SEARCH_ARCHIVE_DIR, `${name}.csv.gz`);
    const partial = `${file}.partial`;
    const runner = this.dataSource.createQueryRunner();
    try {
      const client = (await runner.connect()) as PoolClient;
      const rows = client.query(new QueryStream(`SELECT day::text AS day, product_id, views FROM ${name} ORDER BY day, product_id`, [], { batchSize: 1_000 }));
      await pipeline(rows, stringify({ header: true, columns: ['day', 'product_id', 'views'] }), createGzip(), createWriteStream(partial));
    } finally {
      await runner.release();
    }
    await rename(partial, file);
    await inTransaction(this.dataSource, async (manager) => {
      await fencedWrite(manager, PARTITIONS_LOCK, lease.fencingToken);
      await manager.query(`DROP TABLE ${name}`);
    });
    return file;
  }
}
