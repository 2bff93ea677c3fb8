/**
 * `make bench-pool-sizing` (a part of `make bench-data`): the order service's
 * PostgreSQL pool at sizes 2..64, throughput and p99 per size, the knee and
 * the replicas that fit max_connections. The workload, the knobs and the
 * knee rule: test/bench/data/pool-sizing.ts.
 */
import { measurePoolSizing } from './data/pool-sizing';

async function main(): Promise<void> {
  const r = await measurePoolSizing();
  for (const s of r.sizes)
    console.log(
      `pool=${s.pool}: ${s.rps.toFixed(0)} req/s (median of ${s.roundsRps.map((x) => x.toFixed(0)).join(', ')}), ` +
        `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, ${s.failed} failed`,
    );
  console.log(
    `pool-sizing: cores=${r.cores} noise=${(r.noise * 100).toFixed(1)}% tolerance=${(r.tolerance * 100).toFixed(1)}% knee=${r.knee.pool} ` +
      `max_connections=${r.maxConnections} reserve=${r.reserve} → at the knee ${r.replicasAtKnee} replicas fit (replicas × pool ≤ max_connections − reserve)`,
  );
  console.log(
    `pool-sizing: ${r.sizes.map((s) => `pool${s.pool}_rps=${s.rps.toFixed(0)} pool${s.pool}_p99_ms=${s.p99.toFixed(1)}`).join(' ')} ` +
      `pool_knee=${r.knee.pool} rps_at_knee=${r.knee.rps.toFixed(0)} replicas_at_knee=${r.replicasAtKnee}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
