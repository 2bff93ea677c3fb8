import type { Lease } from '@conveyor/locks';
import { parse } from 'csv-parse/sync';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DataSource } from 'typeorm';
import { MaintainViewPartitionsService } from '../src/engagement/commands/maintain-view-partitions/maintain-view-partitions.service';
import { ViewPartitionsRepository } from '../src/engagement/view-partitions.repository';
import { startSearchStack, type SearchStack } from './support/search-stack';

const lease = (fencingToken: number): Lease => ({
  name: 'search-view-partitions',
  fencingToken,
  signal: new AbortController().signal,
  release: async () => true,
});

describe('monthly partitions of daily view totals (fake dates)', () => {
  let stack: SearchStack;
  let dataSource: DataSource;
  let archiveDir: string;
  let partitions: MaintainViewPartitionsService;

  const tables = async (): Promise<{ name: string; attached: boolean }[]> =>
    (
      await dataSource.query<{ relname: string; relispartition: boolean }[]>(
        `SELECT relname, relispartition FROM pg_class WHERE relkind = 'r' AND relname LIKE 'view\\_daily\\_%' ORDER BY relname`,
      )
    ).map((r) => ({ name: r.relname, attached: r.relispartition }));

  beforeAll(async () => {
    stack = await startSearchStack({}, { start: false });
    dataSource = await stack.dataSource();
    archiveDir = await mkdtemp(join(tmpdir(), 'search-archive-'));
    partitions = new MaintainViewPartitionsService(
      dataSource,
      new ViewPartitionsRepository(dataSource),
      stack.config({ SEARCH_ARCHIVE_DIR: archiveDir, SEARCH_VIEWS_RETENTION_MONTHS: '3', SEARCH_PARTITIONS_AHEAD_MONTHS: '2' }),
    );
  }, 60_000);

  afterAll(async () => {
    await dataSource?.destroy();
    await stack?.stop();
    await rm(archiveDir, { recursive: true, force: true });
  });

  it('When the job runs in January, then January to March exist ahead of any row; running again changes nothing', async () => {
    await expect(partitions.maintain(lease(1), new Date('2026-01-15T10:00:00Z'))).resolves.toEqual({
      created: ['view_daily_2026_01', 'view_daily_2026_02', 'view_daily_2026_03'],
      archived: [],
    });
    await expect(partitions.maintain(lease(1), new Date('2026-01-20T10:00:00Z'))).resolves.toEqual({ created: [], archived: [] });
    await dataSource.query(
      `INSERT INTO view_daily (day, product_id, views) VALUES ('2026-01-01', 'p-1', 3), ('2026-01-31', 'p-2', 5), ('2026-02-10', 'p-1', 7), ('2026-03-05', 'p-3', 1)`,
    );
    await expect(dataSource.query(`INSERT INTO view_daily (day, product_id, views) VALUES ('2026-04-01', 'p-1', 1)`)).rejects.toThrow(/no partition/);
  });

  it('When it runs in May with 3 months kept, then January and February are archived as gzip CSV and dropped; March on is kept', async () => {
    const run = await partitions.maintain(lease(2), new Date('2026-05-02T00:00:00Z'));
    expect(run.created).toEqual(['view_daily_2026_05', 'view_daily_2026_06', 'view_daily_2026_07']);
    expect(run.archived.map((a) => a.partition)).toEqual(['view_daily_2026_01', 'view_daily_2026_02']);
    expect((await tables()).map((t) => t.name)).toEqual(['view_daily_2026_03', 'view_daily_2026_05', 'view_daily_2026_06', 'view_daily_2026_07']);
    const january = parse(gunzipSync(await readFile(join(archiveDir, 'view_daily_2026_01.csv.gz'))), { columns: true }) as Record<string, string>[];
    expect(january).toEqual([
      { day: '2026-01-01', product_id: 'p-1', views: '3' },
      { day: '2026-01-31', product_id: 'p-2', views: '5' },
    ]);
    expect(await readdir(archiveDir)).toEqual(['view_daily_2026_01.csv.gz', 'view_daily_2026_02.csv.gz']);
    await expect(dataSource.query(`SELECT sum(views) AS n FROM view_daily`)).resolves.toEqual([{ n: '1' }]);
  });

  it('When a run died after detaching a partition, then the next run archives and drops the detached table', async () => {
    await dataSource.query('ALTER TABLE view_daily DETACH PARTITION view_daily_2026_03');
    const run = await partitions.maintain(lease(3), new Date('2026-07-01T00:00:00Z'));
    expect(run.archived.map((a) => a.partition)).toEqual(['view_daily_2026_03']);
    expect((await tables()).map((t) => t.name)).not.toContain('view_daily_2026_03');
    const march = parse(gunzipSync(await readFile(join(archiveDir, 'view_daily_2026_03.csv.gz'))), { columns: true }) as Record<string, string>[];
    expect(march).toEqual([{ day: '2026-03-05', product_id: 'p-3', views: '1' }]);
  });

  it('When a holder with an older fencing token runs, then it may create partitions but archives nothing', async () => {
    await expect(partitions.maintain(lease(1), new Date('2027-01-01T00:00:00Z'))).rejects.toMatchObject({ name: 'StaleFencingTokenError' });
    expect((await tables()).map((t) => t.name)).toContain('view_daily_2026_05');
  });
});
