/**
 * `make bench-table-change` (a part of `make bench-data`): change 1,000,000
 * orders' shape while POST /orders writes, online copy-and-swap vs plain
 * ALTER TABLE. What is measured and the knobs: test/bench/data/table-change.ts.
 */
import { measureTableChange } from './data/table-change';

async function main(): Promise<void> {
  const r = await measureTableChange();
  console.log(
    `table-change: table_change_rows=${r.rows} table_change_s=${r.tableChangeS.toFixed(1)} write_p99_before_ms=${r.writeP99BeforeMs.toFixed(1)} ` +
      `write_p99_during_ms=${r.writeP99DuringMs.toFixed(1)} alter_s=${r.alterS.toFixed(1)} ` +
      `alter_block_s=${r.alterBlockS.toFixed(1)} alter_failed_writes=${r.alterFailedWrites} writes_lost=${r.writesLost}`,
  );
  if (r.writesLost > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
