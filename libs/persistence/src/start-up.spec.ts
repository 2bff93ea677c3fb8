import type { DataSource } from 'typeorm';
import { initializeWithRetry } from './start-up';

/** A fake clock that only moves when the code under test sleeps. */
function fakeTime() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('initializeWithRetry', () => {
  it('retries a database that is not reachable yet, doubling the wait, and returns the connected DataSource', async () => {
    const time = fakeTime();
    const connected = { isInitialized: true } as unknown as DataSource;
    let attempts = 0;
    const create = () =>
      ({
        initialize: async () => {
          attempts += 1;
          if (attempts < 4) throw refused();
          return connected;
        },
      }) as unknown as DataSource;
    const retries: number[] = [];

    const result = await initializeWithRetry(create, { timeoutMs: 60_000, ...time, onRetry: (attempt) => retries.push(attempt) });

    expect(result).toBe(connected);
    expect(attempts).toBe(4);
    expect(retries).toEqual([1, 2, 3]);
    expect(time.sleeps).toEqual([250, 500, 1_000]);
  });

  it('gives up once the timeout has passed, with the last error, never waiting past it', async () => {
    const time = fakeTime();
    const create = () => ({ initialize: async () => Promise.reject(refused()) }) as unknown as DataSource;

    await expect(initializeWithRetry(create, { timeoutMs: 12_000, ...time, onRetry: () => undefined })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    expect(time.sleeps).toEqual([250, 500, 1_000, 2_000, 4_000, 4_250]);
    expect(time.now()).toBe(12_000);
  });

  it('tries once when the timeout is 0', async () => {
    const time = fakeTime();
    let attempts = 0;
    const create = () =>
      ({
        initialize: async () => {
          attempts += 1;
          throw refused();
        },
      }) as unknown as DataSource;

    await expect(initializeWithRetry(create, { timeoutMs: 0, ...time })).rejects.toThrow('ECONNREFUSED');
    expect(attempts).toBe(1);
    expect(time.sleeps).toEqual([]);
  });
});
