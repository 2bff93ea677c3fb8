import { SingleFlight } from './single-flight';

/** A load the test settles by hand, counting how often it was started. */
function manualLoads<V>() {
  const started: { resolve: (value: V) => void; reject: (error: unknown) => void }[] = [];
  const load = () =>
    new Promise<V>((resolve, reject) => {
      started.push({ resolve, reject });
    });
  return { load, started };
}

describe('SingleFlight', () => {
  it('When callers ask for one key while its load is in flight, then the load runs once and all share its promise', async () => {
    const flights = new SingleFlight<string, number>();
    const { load, started } = manualLoads<number>();
    const callers = Array.from({ length: 10 }, () => flights.run('k', load));
    expect(started).toHaveLength(1);
    expect(new Set(callers).size).toBe(1);
    expect(flights.has('k')).toBe(true);
    started[0].resolve(42);
    await expect(Promise.all(callers)).resolves.toEqual(Array.from({ length: 10 }, () => 42));
  });

  it('When two keys are asked for, then each has a load of its own', async () => {
    const flights = new SingleFlight<string, string>();
    const { load, started } = manualLoads<string>();
    const a = flights.run('a', load);
    const b = flights.run('b', load);
    expect(started).toHaveLength(2);
    expect(flights.size).toBe(2);
    started[0].resolve('A');
    started[1].resolve('B');
    await expect(Promise.all([a, b])).resolves.toEqual(['A', 'B']);
  });

  it('When the load fails, then every caller that joined gets the rejection, and the next caller starts a new load', async () => {
    const flights = new SingleFlight<string, number>();
    const { load, started } = manualLoads<number>();
    const joined = [flights.run('k', load), flights.run('k', load)];
    const failure = new Error('database down');
    started[0].reject(failure);
    for (const caller of joined) await expect(caller).rejects.toBe(failure);
    expect(flights.has('k')).toBe(false);

    const retried = flights.run('k', load);
    expect(started).toHaveLength(2);
    started[1].resolve(7);
    await expect(retried).resolves.toBe(7);
  });

  it('When a load throws before returning a promise, then that is its rejection and the key is released', async () => {
    const flights = new SingleFlight<string, number>();
    await expect(
      flights.run('k', () => {
        throw new Error('bad key');
      }),
    ).rejects.toThrow('bad key');
    expect(flights.size).toBe(0);
  });

  it('When the load has settled, then the key is released before callers see the result, and nothing is cached', async () => {
    const flights = new SingleFlight<string, number>();
    const { load, started } = manualLoads<number>();
    const first = flights.run('k', load);
    started[0].resolve(1);
    const releasedBeforeSeen = await first.then(() => !flights.has('k'));
    expect(releasedBeforeSeen).toBe(true);
    expect(flights.size).toBe(0);

    const second = flights.run('k', load);
    expect(started).toHaveLength(2);
    started[1].resolve(2);
    await expect(second).resolves.toBe(2);
  });

  it('When cleared while a load is in flight, then later callers start a new load, and the old one settling does not release it', async () => {
    const flights = new SingleFlight<string, string>();
    const { load, started } = manualLoads<string>();
    const before = flights.run('k', load);
    flights.clear();
    const after = flights.run('k', load);
    expect(started).toHaveLength(2);
    expect(after).not.toBe(before);

    started[0].resolve('old state');
    await expect(before).resolves.toBe('old state');
    expect(flights.has('k')).toBe(true);
    expect(flights.run('k', load)).toBe(after);
    started[1].resolve('new state');
    await expect(after).resolves.toBe('new state');
    expect(flights.size).toBe(0);
  });
});
