import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { once } from 'node:events';
import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import type { SpecTask } from '../test/workers/tasks';
import { WorkerPool, WorkerTaskFailedError, WorkerTaskTimeoutError, type WorkerPoolOptions, type WorkerTask } from './worker-pool';

const SPEC_TASK: WorkerTask<SpecTask, unknown> = { name: 'spec', module: path.join(__dirname, '../test/workers/tasks.ts'), export: 'specTask' };

describe('WorkerPool', () => {
  const pools: WorkerPool[] = [];
  const pool = (options: Partial<WorkerPoolOptions> = {}): WorkerPool => {
    const created = new WorkerPool({
      name: 'spec',
      threads: 1,
      queue: 0,
      taskTimeoutMs: 30_000,
      ...options,
    });
    pools.push(created);
    return created;
  };
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });

  const reserveOrFail = (p: WorkerPool, task = SPEC_TASK) => {
    const slot = p.reserve(task);
    if (!slot) throw new Error('the pool admitted nothing');
    return slot;
  };
  const gate = () => new Int32Array(new SharedArrayBuffer(4));
  const open = (g: Int32Array) => {
    Atomics.store(g, 0, 1);
    Atomics.notify(g, 0);
  };
  const untilRunning = async (p: WorkerPool, n: number) => {
    while (p.running < n) await new Promise((r) => setImmediate(r));
  };

  it('When a task runs, then its result comes back and the running count is 0 again', async () => {
    const two = pool({ threads: 2 });
    await expect(reserveOrFail(two).run({ do: 'square', n: 7 })).resolves.toBe(49);
    expect(two.running).toBe(0);
    expect(two.admitted).toBe(0);
  }, 60_000);

  it('When threads + queue are all taken, then reserve() admits nothing until a task ends', async () => {
    const small = pool({ threads: 1, queue: 1 });
    const g = gate();
    const first = reserveOrFail(small).run({ do: 'wait', gate: g, value: 1 });
    const second = reserveOrFail(small).run({ do: 'wait', gate: g, value: 2 });
    expect(small.reserve(SPEC_TASK)).toBeUndefined();
    open(g);
    await expect(Promise.all([first, second])).resolves.toEqual([1, 2]);
    const third = small.reserve(SPEC_TASK);
    expect(third).toBeDefined();
    third?.release();
    expect(small.admitted).toBe(0);
  }, 60_000);

  it('When a reserved slot is released unused, then it is free again', () => {
    const one = pool();
    const slot = reserveOrFail(one);
    expect(one.reserve(SPEC_TASK)).toBeUndefined();
    slot.release();
    slot.release();
    expect(one.admitted).toBe(0);
  });

  it('When a task throws, then that task fails and the next one runs', async () => {
    const one = pool();
    await expect(reserveOrFail(one).run({ do: 'throw', message: 'bad input' })).rejects.toThrow(WorkerTaskFailedError);
    await expect(reserveOrFail(one).run({ do: 'square', n: 3 })).resolves.toBe(9);
  }, 60_000);

  it('When a task kills its thread, then that task fails, the count is 0, and the next task runs on a new thread', async () => {
    const one = pool();
    await expect(reserveOrFail(one).run({ do: 'exit' })).rejects.toThrow(WorkerTaskFailedError);
    expect(one.running).toBe(0);
    await expect(reserveOrFail(one).run({ do: 'square', n: 4 })).resolves.toBe(16);
  }, 60_000);

  it('When a task hangs, then it is cancelled after taskTimeoutMs, taken off the running count, and the pool runs the next task', async () => {
    const one = pool({ taskTimeoutMs: 300 });
    const run = reserveOrFail(one).run({ do: 'hang' });
    await untilRunning(one, 1);
    expect(one.reserve(SPEC_TASK)).toBeUndefined();
    await expect(run).rejects.toThrow(WorkerTaskTimeoutError);
    expect(one.running).toBe(0);
    await expect(reserveOrFail(one).run({ do: 'square', n: 5 })).resolves.toBe(25);
  }, 60_000);

  it('When several threads run many tasks at once, then the shared running count reaches the threads and ends at 0', async () => {
    const three = pool({ threads: 3, queue: 5 });
    const g = gate();
    const runs = Array.from({ length: 8 }, (_, i) => reserveOrFail(three).run({ do: 'wait', gate: g, value: i }));
    // Each of the three threads counted itself in before blocking on the gate.
    await untilRunning(three, 3);
    expect(three.running).toBe(3);
    open(g);
    await expect(Promise.all(runs)).resolves.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(three.running).toBe(0);
  }, 60_000);

  it('When metrics are kept, then worker_pool_tasks reads the running and waiting tasks and rejections are counted', async () => {
    const registry = new Registry();
    const metered = pool({ name: 'metered', threads: 1, queue: 1, registry });
    const g = gate();
    const runs = [reserveOrFail(metered).run({ do: 'wait', gate: g, value: 1 }), reserveOrFail(metered).run({ do: 'wait', gate: g, value: 2 })];
    expect(metered.reserve(SPEC_TASK)).toBeUndefined();
    await untilRunning(metered, 1);
    const text = await registry.metrics();
    expect(text).toContain('worker_pool_tasks{pool="metered",state="running"} 1');
    expect(text).toContain('worker_pool_tasks{pool="metered",state="waiting"} 1');
    expect(text).toContain('worker_pool_rejections_total{pool="metered"} 1');
    open(g);
    await Promise.all(runs);
  }, 60_000);

  describe('tracing', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
    beforeAll(() => {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      trace.setGlobalTracerProvider(provider);
    });
    afterAll(() => {
      trace.disable();
      propagation.disable();
      context.disable();
    });

    it("When a task runs under a span, then the task gets that span's traceparent and its span is a child of it", async () => {
      const traced = pool({ name: 'traced' });
      const request = provider.getTracer('spec').startSpan('request');
      const seen = await context.with(trace.setSpan(context.active(), request), () =>
        reserveOrFail(traced, { ...SPEC_TASK, name: 'traced' }).run({ do: 'traceparent' }),
      );
      request.end();
      const { traceId, spanId } = request.spanContext();
      expect(seen).toBe(`00-${traceId}-${spanId}-01`);
      // SimpleSpanProcessor exports on a promise after the span ends.
      await new Promise((r) => setImmediate(r));
      const task = exporter.getFinishedSpans().find((s) => s.name === 'traced task');
      expect(task?.spanContext().traceId).toBe(traceId);
      expect(task?.parentSpanContext?.spanId).toBe(spanId);
      expect(task?.attributes['thread.id']).toEqual(expect.any(Number));
      expect(task?.attributes['worker_pool.name']).toBe('traced');
    }, 60_000);
  });

  describe('priority (Linux)', () => {
    const tidOfThisThread = () => Number(readlinkSync('/proc/thread-self').split('/').pop());

    it("When niceIncrement is set, then the pool's threads run that much lower than the thread that made the pool", async () => {
      const niced = pool({ niceIncrement: 5 });
      const own = getPriority(tidOfThisThread());
      await expect(reserveOrFail(niced).run({ do: 'nice' })).resolves.toBe(Math.min(19, own + 5));
      expect(getPriority(tidOfThisThread())).toBe(own);
    }, 60_000);

    it("When helperThreads names threads the task's code feeds, then a task lowers them to the pool threads' priority", async () => {
      // A thread named like a native helper: a plain worker thread (its name, "WorkerThread"), started from here, at this thread's priority.
      const helper = new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.postMessage(Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop()));
         setInterval(() => undefined, 1000);`,
        { eval: true },
      );
      try {
        const [helperTid] = (await once(helper, 'message')) as [number];
        const own = getPriority(tidOfThisThread());
        expect(getPriority(helperTid)).toBe(own);
        const niced = pool({ niceIncrement: 7, helperThreads: ['WorkerThread'] });
        await expect(reserveOrFail(niced).run({ do: 'nice' })).resolves.toBe(Math.min(19, own + 7));
        expect(getPriority(helperTid)).toBe(Math.min(19, own + 7));
        expect(getPriority(tidOfThisThread())).toBe(own);
      } finally {
        await helper.terminate();
      }
    }, 60_000);
  });

  it('When a task is given a stream, then it reads the bytes in order as they arrive, whatever the chunks', async () => {
    const one = pool();
    const chunks = ['line 1\nline', ' 2\n', '', 'line 3 ✓\n'].map((c) => Buffer.from(c));
    const stream = Readable.from(chunks);
    await expect(reserveOrFail(one).run({ do: 'read-stream' }, { stream })).resolves.toBe('line 1\nline 2\nline 3 ✓\n');
  }, 60_000);

  it('When the stream fails mid-way, then the task reading it fails with its error, and the next task runs', async () => {
    const one = pool();
    const stream = Readable.from(
      (function* () {
        yield Buffer.from('first part\n');
        throw new Error('connection reset');
      })(),
    );
    await expect(reserveOrFail(one).run({ do: 'read-stream' }, { stream })).rejects.toThrow('connection reset');
    await expect(reserveOrFail(one).run({ do: 'square', n: 6 })).resolves.toBe(36);
  }, 60_000);

  it('When a task reads its stream slowly, then the stream is pulled only as fast: a chunk or two ahead of the reader', async () => {
    const one = pool();
    // How many chunks the main thread has pulled, where the task reads it after each chunk it reads.
    const pulled = new Int32Array(new SharedArrayBuffer(4));
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < 50; i += 1) {
          Atomics.add(pulled, 0, 1);
          // A download's chunk size: the reading side buffers up to 16 KiB ahead (its highWaterMark).
          yield Buffer.alloc(16 * 1024, 'x');
        }
      })(),
    );
    const result = (await reserveOrFail(one).run({ do: 'read-stream-slowly', pulled }, { stream })) as { read: number; pulledWhenRead: number[] };
    expect(result.read).toBe(50);
    // Unbounded, all 50 would be pulled before the task read its 10th chunk.
    expect(result.pulledWhenRead[9]).toBeLessThan(15);
  }, 60_000);
});

/**
 * Why the running count uses Atomics: `counter[0] += 1` is a load, an add and
 * a store; two threads that load the same value both store value + 1, and one
 * increment is lost. `Atomics.add` does the three as one.
 */
describe('A count shared by threads on a SharedArrayBuffer', () => {
  const THREADS = 4;
  const INCREMENTS = 2_000_000;
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { counter, atomic, increments, start } = workerData;
    Atomics.add(start, 0, 1);
    while (Atomics.load(start, 0) < ${THREADS}) {} // start together, so the loops overlap
    for (let i = 0; i < increments; i += 1) {
      if (atomic) Atomics.add(counter, 0, 1);
      else counter[0] += 1;
    }
    parentPort.postMessage('done');
  `;

  async function countWith(atomic: boolean): Promise<number> {
    const counter = new Int32Array(new SharedArrayBuffer(4));
    const start = new Int32Array(new SharedArrayBuffer(4));
    const workers = Array.from({ length: THREADS }, () => new Worker(code, { eval: true, workerData: { counter, atomic, increments: INCREMENTS, start } }));
    await Promise.all(workers.map((w) => once(w, 'exit')));
    return Atomics.load(counter, 0);
  }

  it('When threads add with a plain +=, then increments are lost (seen within a few rounds)', async () => {
    const expected = THREADS * INCREMENTS;
    let shortfall = 0;
    // Losses need two threads between load and store at once: almost every round on two cores; the cap keeps a quiet machine from looping forever.
    for (let round = 0; round < 20 && shortfall === 0; round += 1) shortfall = expected - (await countWith(false));
    expect(shortfall).toBeGreaterThan(0);
  }, 120_000);

  it('When threads add with Atomics.add, then the count is exact', async () => {
    await expect(countWith(true)).resolves.toBe(THREADS * INCREMENTS);
  }, 120_000);
});
