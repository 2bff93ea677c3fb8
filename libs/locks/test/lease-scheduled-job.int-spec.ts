import { eventually, localServers, uniqueName } from '@conveyor/testing';
import Redis from 'ioredis';
import { LeaseLocks, LeaseScheduledJob, type Lease } from '../src';

/** A job that records every run: when it started and ended, and its fencing token. */
class RecordingJob extends LeaseScheduledJob<void> {
  static runs: { replica: number; token: number; start: number; end: number }[] = [];
  static started = 0;

  constructor(
    locks: LeaseLocks,
    private readonly replica: number,
    lockName: string,
  ) {
    super(locks, { lockName, intervalMs: 5 });
  }

  protected async run(lease: Lease): Promise<void> {
    const start = performance.now();
    RecordingJob.started += 1;
    await new Promise((resolve) => setTimeout(resolve, 20));
    RecordingJob.runs.push({ replica: this.replica, token: lease.fencingToken, start, end: performance.now() });
  }
}

describe('LeaseScheduledJob (real Redis)', () => {
  const clients: Redis[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => undefined)));
  });

  it('When two replicas schedule the same job, then runs never overlap, tokens only grow, and shutdown waits for the run in flight', async () => {
    const lockName = uniqueName('job');
    // Two Redis clients, one key prefix: the replicas contend for one lock.
    const shared = uniqueName('jobs');
    const locks = [0, 1].map(() => {
      const redis = new Redis(localServers().REDIS_URL, { maxRetriesPerRequest: 1 });
      clients.push(redis);
      return new LeaseLocks(redis, { ttlMs: 2_000, keyPrefix: shared });
    });
    const contenders = locks.map((l, replica) => new RecordingJob(l, replica, lockName));
    RecordingJob.runs = [];
    RecordingJob.started = 0;
    contenders.forEach((job) => job.onApplicationBootstrap());
    await eventually(() => (RecordingJob.runs.length >= 10 ? true : undefined), { timeoutMs: 15_000, what: '10 runs' });
    await Promise.all(contenders.map((job) => job.onApplicationShutdown()));
    const runs = [...RecordingJob.runs].sort((a, b) => a.start - b.start);
    for (let i = 1; i < runs.length; i += 1) {
      expect(runs[i].start).toBeGreaterThanOrEqual(runs[i - 1].end);
      expect(runs[i].token).toBeGreaterThan(runs[i - 1].token);
    }
    // Every run that started had finished when shutdown returned.
    expect(RecordingJob.runs).toHaveLength(RecordingJob.started);
  });
});
