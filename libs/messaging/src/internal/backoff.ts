/** Exponential back-off with full jitter: attempt 1 waits up to `initialMs`, doubling up to `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  // Half fixed, half random: spreads retries of many consumers without ever retrying at once.
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

/** A sleep that ends early when `signal` aborts (so stop() never waits a whole back-off). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Rejects with `message` if `work` has not settled within `ms`. */
export async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));
