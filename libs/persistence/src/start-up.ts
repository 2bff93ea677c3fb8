import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';

/** How {@link initializeWithRetry} waits; the clock and the sleep are injectable for tests. */
export interface StartRetryOptions {
  /** Give up this long after the first attempt (POSTGRES_START_TIMEOUT_MS); 0 tries once. */
  timeoutMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Called before each wait (the default logs a warning naming the error and the next try). */
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;
const logger = new Logger('Database');

/**
 * Connects a new DataSource, retrying while PostgreSQL is not reachable yet
 * (a pod that starts before the database, its role or its database exists)
 * with a doubling delay (250 ms up to 5 s), every failure logged, until
 * `timeoutMs` has passed: then the last error is thrown and the service
 * exits as before. Readiness gates traffic meanwhile, since the app does not
 * listen before this returns. Each attempt builds a fresh DataSource.
 */
export async function initializeWithRetry(create: () => DataSource, options: StartRetryOptions): Promise<DataSource> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const onRetry =
    options.onRetry ??
    ((attempt: number, error: unknown, delayMs: number) =>
      logger.warn({ err: error, attempt, retryInMs: delayMs }, `PostgreSQL is not reachable yet (attempt ${attempt}); retrying`));
  const deadline = now() + options.timeoutMs;
  for (let attempt = 1, delay = FIRST_DELAY_MS; ; attempt += 1, delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      return await create().initialize();
    } catch (error) {
      const left = deadline - now();
      if (left <= 0) throw error;
      const wait = Math.min(delay, left);
      onRetry(attempt, error, wait);
      await sleep(wait);
    }
  }
}
