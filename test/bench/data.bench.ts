/**
 * `make bench-data`: the data-layer figures of issue #25 in one run, one
 * after the other so they do not share the machine: the pool-sizing knee
 * (test/bench/data/pool-sizing.ts), reads on the replica and
 * read-your-writes (test/bench/data/replica.ts), the online table change
 * (test/bench/data/table-change.ts) and archiving (test/bench/data/archive.ts).
 * Each part's knobs are at the top of its module; each part also has a
 * bench of its own printing more (`make bench-pool-sizing`,
 * `make bench-table-change`). Exits 1 when a read missed its own write or
 * a write acknowledged by the service is not in the table.
 */
import { measureArchive } from './data/archive';
import { measurePoolSizing } from './data/pool-sizing';
import { measureReplicaReads } from './data/replica';
import { measureTableChange } from './data/table-change';

async function main(): Promise<void> {
  const pool = await measurePoolSizing();
  console.log(`data: pool sizing done: knee ${pool.knee.pool} (${pool.knee.rps.toFixed(0)} req/s), tolerance ${(pool.tolerance * 100).toFixed(1)}%`);
  const replica = await measureReplicaReads();
  console.log(`data: replica reads done: share ${replica.replicaReadShare.toFixed(2)}, ${replica.rywViolations} read-your-writes violations`);
  const table = await measureTableChange();
  console.log(`data: table change done: ${table.rows} rows in ${table.tableChangeS.toFixed(1)} s, ${table.writesLost} writes lost`);
  const archive = await measureArchive();
  console.log(
    `data: pool_knee=${pool.knee.pool} rps_at_knee=${pool.knee.rps.toFixed(0)} replica_read_share=${replica.replicaReadShare.toFixed(2)} ` +
      `ryw_violations=${replica.rywViolations} table_change_rows=${table.rows} table_change_s=${table.tableChangeS.toFixed(1)} ` +
      `write_p99_before_ms=${table.writeP99BeforeMs.toFixed(1)} write_p99_during_ms=${table.writeP99DuringMs.toFixed(1)} ` +
      `alter_block_s=${table.alterBlockS.toFixed(1)} archive_rows_per_s=${archive.archiveRowsPerS.toFixed(0)}`,
  );
  if (replica.rywViolations > 0 || table.writesLost > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
