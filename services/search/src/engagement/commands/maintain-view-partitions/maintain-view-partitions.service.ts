import { InjectConfig } from '@conveyor/config';
import { fencedWrite, type Lease } from '@conveyor/locks';
import { inTransaction } from '@conveyor/persistence';
import { Injectable, Logger } from '@nestjs/common';
import { stringify } from 'csv-stringify';
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { DataSource } from 'typeorm';
import type { SearchConfig } from '../../../config';
import { isPartitionBefore, oldestKeptMonth, partitionsAhead } from '../../domain/view-partitions';
import { ViewPartitionsRepository } from '../../view-partitions.repository';

export const PARTITIONS_LOCK = 'search-view-partitions';

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
export class MaintainViewPartitionsService {
  private readonly log = new Logger(PARTITIONS_LOCK);

  constructor(
    private readonly dataSource: DataSource,
    private readonly partitions: ViewPartitionsRepository,
    @InjectConfig()
    private readonly config: Pick<SearchConfig, 'SEARCH_PARTITIONS_AHEAD_MONTHS' | 'SEARCH_VIEWS_RETENTION_MONTHS' | 'SEARCH_ARCHIVE_DIR'>,
  ) {}

  /** One run of the job at `now` (tests pass their own date). */
  async maintain(lease: Lease, now = new Date()): Promise<PartitionMaintenance> {
    const created: string[] = [];
    for (const partition of partitionsAhead(now, this.config.SEARCH_PARTITIONS_AHEAD_MONTHS)) {
      if (await this.partitions.createIfMissing(partition)) created.push(partition.name);
    }
    const oldestKept = oldestKeptMonth(now, this.config.SEARCH_VIEWS_RETENTION_MONTHS);
    const archived: PartitionMaintenance['archived'] = [];
    for (const { name, attached } of (await this.partitions.tables()).filter((table) => isPartitionBefore(table.name, oldestKept))) {
      if (lease.signal.aborted) break;
      archived.push({ partition: name, file: await this.archive(lease, name, attached) });
    }
    if (created.length || archived.length) this.log.log({ created, archived: archived.map((a) => a.partition) }, 'view partitions maintained');
    return { created, archived };
  }

  private async archive(lease: Lease, name: string, attached: boolean): Promise<string> {
    if (attached) {
      await inTransaction(this.dataSource, async (manager) => {
        await fencedWrite(manager, PARTITIONS_LOCK, lease.fencingToken);
        await this.partitions.detach(manager, name);
      });
    }
    await mkdir(this.config.SEARCH_ARCHIVE_DIR, { recursive: true });
    const file = join(this.config.SEARCH_ARCHIVE_DIR, `${name}.csv.gz`);
    const partial = `${file}.partial`;
    await this.partitions.streamRows(name, (rows) =>
      pipeline(rows, stringify({ header: true, columns: ['day', 'product_id', 'views'] }), createGzip(), createWriteStream(partial)),
    );
    await rename(partial, file);
    await inTransaction(this.dataSource, async (manager) => {
      await fencedWrite(manager, PARTITIONS_LOCK, lease.fencingToken);
      await this.partitions.drop(manager, name);
    });
    return file;
  }
}
