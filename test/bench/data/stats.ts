/** Order statistics of the data benchmarks, and the knee rule of the pool-sizing one (test/bench/data/pool-sizing.ts). */

/** The least tolerance of the knee rule, whatever the noise. */
const MIN_TOLERANCE = 0.05;

export const percentile = (samples: number[], p: number): number => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
};

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? Number.NaN) : ((sorted[mid - 1] ?? Number.NaN) + (sorted[mid] ?? Number.NaN)) / 2;
};

/**
 * The knee of a throughput curve measured in rounds: the smallest size whose
 * median is within max(5%, noise) of the best median. `sizes` in increasing
 * order of pool size.
 */
export function findKnee(sizes: readonly { pool: number; roundsRps: number[] }[]): { pool: number; noise: number; tolerance: number } {
  const medians = sizes.map((s) => median(s.roundsRps));
  // A size with no valid round (every round left out) has no median and takes no part.
  const noise = median(
    sizes
      .map((s, i) => {
        const m = medians[i] ?? Number.NaN;
        return (1.4826 * median(s.roundsRps.map((r) => Math.abs(r - m)))) / m;
      })
      .filter(Number.isFinite),
  );
  const tolerance = Math.max(MIN_TOLERANCE, Number.isFinite(noise) ? noise : 0);
  const best = Math.max(...medians.filter(Number.isFinite));
  const index = medians.findIndex((m) => m >= (1 - tolerance) * best);
  return { pool: sizes[Math.max(0, index)]?.pool ?? Number.NaN, noise, tolerance };
}
