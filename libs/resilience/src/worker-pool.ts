import { metricOnce } from '@conveyor/telemetry';
import { context, propagation, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { MessageChannel, type MessagePort, type Transferable } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { Counter, Gauge, type Registry } from 'prom-client';
import { Bulkhead } from './bulkhead';
import { IN_FLIGHT, TaskState, type StreamMessage, type WorkerTaskEnvelope, type WorkerTaskOutcome } from './worker-runner';

const tracer = trace.getTracer('@conveyor/resilience');

/** The pools of this process, read by the `worker_pool_tasks` gauge when it is scraped. */
const livePools = new Set<WorkerPool>();

/**
 * A function a pool's threads run, taking an `I` and answering an `O` (or a
 * promise of one): `export` of the module at the absolute path `module`, pure
 * code, no Nest, no I/O the pool does not know of. It is called with the
 * input and `{ traceparent, stream }` (stream: the Readable a caller passed
 * to {@link WorkerPoolSlot.run}, arriving from the main thread).
 */
export interface WorkerTask<I, O> {
  /** Names the task in spans and errors (`product-images`). */
  name: string;
  module: string;
  export: string;
  /** Overrides the pool's {@link WorkerPoolOptions.taskTimeoutMs} for this task (e.g. one that reads a download as it arrives). */
  timeoutMs?: number;
  /** Never set: carries the input and output types. */
  readonly types?: (input: I) => O;
}

/** How a {@link WorkerPool} is sized and bounded. */
export interface WorkerPoolOptions {
  /** Names the pool in metrics (`worker_pool_tasks{pool}`). */
  name: string;
  /** Worker threads, started with the pool; each runs one task at a time. */
  threads: number;
  /** Tasks admitted beyond the running ones, waiting for a thread. Past threads + queue, {@link WorkerPool.reserve} admits nothing. */
  queue: number;
  /** A task still running this long after a thread started it is cancelled: its thread is terminated (and replaced). */
  taskTimeoutMs: number;
  /**
   * How much lower than the event loop the threads run, as a nice increment
   * (0, the default: the same; 19: the lowest). With fewer cores than busy
   * threads, the kernel shares them by weight: a nice-10 thread weighs about
   * a tenth of the event loop, which then gets a core as soon as it wakes
   * instead of waiting its turn behind the tasks. Applied by piscina to each
   * thread (with its optional @napi-rs/nice; without it, not at all).
   */
  niceIncrement?: number;
  /**
   * Names (`/proc/<tid>/comm`) of threads the tasks' native code starts and
   * feeds, e.g. libvips's `libvips worker` threads under sharp: after each
   * task, those of them running at a higher priority than the pool's threads
   * are lowered to theirs. Linux only (a no-op elsewhere). Needed because
   * such threads do the bulk of the work, yet are started by libuv's
   * process-wide threadpool (created by the main thread, at its priority)
   * and inherit that.
   */
  helperThreads?: string[];
  /** Where `worker_pool_*` metrics go; none: not exported. */
  registry?: Registry;
}

/** The task ran past {@link WorkerPoolOptions.taskTimeoutMs} and was cancelled. */
export class WorkerTaskTimeoutError extends Error {
  constructor(
    /** The task's name. */
    readonly task: string,
    readonly timeoutMs: number,
  ) {
    super(`${task}: task cancelled after ${timeoutMs} ms`);
    this.name = 'WorkerTaskTimeoutError';
  }
}

/** The task threw, or its thread died under it (the pool starts another). */
export class WorkerTaskFailedError extends Error {
  constructor(
    /** The task's name. */
    readonly task: string,
    cause: unknown,
  ) {
    super(`${task}: task failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'WorkerTaskFailedError';
  }
}

/** A place in the pool, taken by {@link WorkerPool.reserve}: run one task in it, or release it. */
export interface WorkerPoolSlot<I, O> {
  /**
   * Runs the task; the slot is freed when it settles. Rejects with
   * {@link WorkerTaskTimeoutError} or {@link WorkerTaskFailedError}.
   * `stream`: bytes the task reads as they arrive (its `stream`), one chunk
   * in flight at a time, so a download is pulled only as fast as the thread
   * parses it; an error of the stream fails the task's reading with it.
   */
  run(input: I, options?: { transferList?: Transferable[]; stream?: Readable }): Promise<O>;
  /** Gives the slot back unused (e.g. the work it was for could not be recorded). Idempotent; a no-op once `run` was called. */
  release(): void;
}

interface PoolMetrics {
  tasks: Gauge<'pool' | 'state'>;
  rejections: Counter<'pool'>;
  failures: Counter<'pool' | 'reason'>;
}

/**
 * CPU-bound work off the event loop, bounded like a bulkhead: `threads`
 * worker threads (piscina) and at most `queue` tasks waiting for one. A
 * caller reserves a slot first and is told at once when there is none, so a
 * burst is refused (503 + Retry-After at the edge) instead of queueing
 * without end. A task that throws or kills its thread fails alone; one that
 * runs past `taskTimeoutMs` (or its own `timeoutMs`) is cancelled and its
 * thread replaced. One pool can run any number of {@link WorkerTask}s, so a
 * process needs one pool for all its CPU work. With `niceIncrement` (and
 * `helperThreads`) the threads run below the event loop, which then gets a
 * core first when they outnumber the cores.
 *
 * Tracing: the submitting context's traceparent travels with the task, and
 * the task's span (`<task name> task`, from when the thread started it to when it
 * ended) is recorded here, in the main thread, as a child of that context:
 * a thread has no SDK of its own, and a span exported by a thread that a
 * timeout terminates would be lost with it.
 *
 * The in-flight count lives in a SharedArrayBuffer the threads update with
 * `Atomics.add`/`Atomics.sub` (worker-runner.ts); `worker_pool_tasks{state="running"}`
 * reads it with `Atomics.load`.
 */
export class WorkerPool {
  private readonly piscina: Piscina;
  private readonly admission: Bulkhead;
  private readonly counters = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  private readonly metrics: PoolMetrics;

  constructor(private readonly options: WorkerPoolOptions) {
    this.admission = new Bulkhead(options.threads + options.queue);
    const runner = path.join(__dirname, `worker-runner${path.extname(__filename)}`);
    this.piscina = new Piscina({
      filename: runner,
      minThreads: options.threads,
      maxThreads: options.threads,
      // The bound is the admission above; piscina's own queue must never refuse what it admitted.
      maxQueue: options.threads + options.queue,
      niceIncrement: options.niceIncrement ?? 0,
      // From source (dev, tests), the threads load TypeScript the way the service does.
      ...(runner.endsWith('.ts') ? typeScriptWorkerOptions() : {}),
    });
    // A thread that dies is replaced by piscina; the task it ran fails through its own promise.
    this.piscina.on('error', () => undefined);
    this.metrics = poolMetrics(options.registry);
    livePools.add(this);
  }

  get name(): string {
    return this.options.name;
  }

  /** Tasks running in a thread now (the shared count, read with Atomics.load). */
  get running(): number {
    return Atomics.load(this.counters, IN_FLIGHT);
  }

  /** Slots taken: running, waiting for a thread, or reserved and not yet run. */
  get admitted(): number {
    return this.admission.active;
  }

  /** Takes a slot for `task`, or answers undefined at once when threads + queue are all taken. */
  reserve<I, O>(task: WorkerTask<I, O>): WorkerPoolSlot<I, O> | undefined {
    if (!this.admission.tryAcquire()) {
      this.metrics.rejections.inc({ pool: this.options.name });
      return undefined;
    }
    let used = false;
    return {
      run: (input, runOptions) => {
        if (used) return Promise.reject(new Error(`${task.name}: slot used twice`));
        used = true;
        return this.dispatch(task, input, runOptions ?? {}).finally(() => this.admission.release()) as Promise<O>;
      },
      release: () => {
        if (used) return;
        used = true;
        this.admission.release();
      },
    };
  }

  /** Stops the threads; tasks still running are failed. */
  async close(): Promise<void> {
    livePools.delete(this);
    await this.piscina.destroy();
  }

  private async dispatch(
    task: Pick<WorkerTask<unknown, unknown>, 'name' | 'module' | 'export' | 'timeoutMs'>,
    input: unknown,
    { transferList = [], stream }: { transferList?: Transferable[]; stream?: Readable },
  ): Promise<unknown> {
    const parent = context.active();
    const carrier: { traceparent?: string } = {};
    propagation.inject(parent, carrier);
    const timeoutMs = task.timeoutMs ?? this.options.taskTimeoutMs;
    const channel = stream && new MessageChannel();
    const envelope: WorkerTaskEnvelope = {
      module: task.module,
      export: task.export,
      input,
      traceparent: carrier.traceparent,
      stream: channel?.port2,
      helperThreads: this.options.helperThreads,
      counters: this.counters,
      state: new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)),
    };
    const dispatchedAt = Date.now();
    // The timeout counts from when a thread starts the task (the thread stores RUNNING and notifies):
    // time waiting for a thread is bounded by the queue, not by this.
    const controller = new AbortController();
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const armTimeout = (): void => {
      if (!settled) timer = setTimeout(() => controller.abort(), timeoutMs);
    };
    const started = waitAsync(envelope.state, 0, TaskState.QUEUED);
    if (typeof started.value === 'string') armTimeout();
    else void started.value.then(armTimeout);
    if (stream && channel) feed(stream, channel.port1);
    try {
      const outcome = (await this.piscina.run(envelope, {
        signal: controller.signal,
        transferList: channel ? [...transferList, channel.port2] : transferList,
      })) as WorkerTaskOutcome;
      this.recordSpan(task, parent, dispatchedAt, outcome.startedAt, outcome.endedAt, outcome.threadId);
      return outcome.output;
    } catch (error) {
      // The thread was terminated (timeout) or died: its `finally` never ran, so the task leaves the count here.
      if (Atomics.compareExchange(envelope.state, 0, TaskState.RUNNING, TaskState.SETTLED) === TaskState.RUNNING) {
        Atomics.sub(this.counters, IN_FLIGHT, 1);
      }
      const timedOut = controller.signal.aborted;
      const failure = timedOut ? new WorkerTaskTimeoutError(task.name, timeoutMs) : new WorkerTaskFailedError(task.name, error);
      this.metrics.failures.inc({ pool: this.options.name, reason: timedOut ? 'timeout' : 'error' });
      this.recordSpan(task, parent, dispatchedAt, dispatchedAt, Date.now(), undefined, failure);
      throw failure;
    } finally {
      settled = true;
      // Stops feeding a task that ended before its stream did; the caller owns (and destroys) the stream.
      channel?.port1.close();
      clearTimeout(timer);
      // Wakes the start watcher of a task that never started (the pool closed under it).
      Atomics.notify(envelope.state, 0);
    }
  }

  private recordSpan(
    task: Pick<WorkerTask<unknown, unknown>, 'name'>,
    parent: Context,
    dispatchedAt: number,
    startedAt: number,
    endedAt: number,
    threadId: number | undefined,
    error?: Error,
  ): void {
    const span = tracer.startSpan(
      `${task.name} task`,
      {
        startTime: startedAt,
        attributes: {
          'worker_pool.name': this.options.name,
          'worker_pool.task': task.name,
          'worker_pool.wait_ms': Math.max(0, Math.round(startedAt - dispatchedAt)),
          ...(threadId === undefined ? {} : { 'thread.id': threadId }),
        },
      },
      parent,
    );
    if (error) {
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    span.end(endedAt);
  }
}

/**
 * Sends `stream`'s chunks to a task's thread, one each time the thread asks
 * for the next (`'next'`): back-pressure across the threads. Each chunk is
 * copied into an ArrayBuffer of its own and transferred (a chunk is often a
 * view of a larger pooled buffer, which a plain post would copy whole).
 */
function feed(stream: Readable, port: MessagePort): void {
  const chunks = stream[Symbol.asyncIterator]();
  port.on('message', () => {
    chunks.next().then(
      ({ done, value }) => {
        if (done) return port.postMessage({ end: true } satisfies StreamMessage);
        const chunk = typeof value === 'string' ? Buffer.from(value) : (value as Uint8Array);
        const copy = new Uint8Array(chunk);
        port.postMessage({ chunk: copy } satisfies StreamMessage, [copy.buffer]);
      },
      (error: unknown) => port.postMessage({ error: (error as Error)?.message ?? String(error) } satisfies StreamMessage),
    );
  });
}

/** `Atomics.waitAsync` (Node 16+; in TypeScript's lib from ES2024, past this workspace's target). */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number): { value: Promise<string> | string } }).waitAsync;

/** Threads of a pool run from TypeScript sources: @swc-node/register, with the workspace's path aliases, as the service process itself. */
function typeScriptWorkerOptions(): { execArgv: string[]; env: NodeJS.ProcessEnv } {
  const execArgv = process.execArgv.includes('@swc-node/register') ? process.execArgv : [...process.execArgv, '-r', '@swc-node/register'];
  return { execArgv, env: { ...process.env, SWC_NODE_PROJECT: process.env['SWC_NODE_PROJECT'] ?? 'tsconfig.base.json' } };
}

function poolMetrics(registry: Registry | undefined): PoolMetrics {
  return {
    tasks: metricOnce(
      registry,
      'worker_pool_tasks',
      (registers) =>
        new Gauge({
          name: 'worker_pool_tasks',
          help: 'Tasks of a worker pool: running in a thread (the shared Atomics count), or admitted and not running yet.',
          labelNames: ['pool', 'state'],
          registers,
          collect() {
            for (const pool of livePools) {
              const running = pool.running;
              this.set({ pool: pool.name, state: 'running' }, running);
              this.set({ pool: pool.name, state: 'waiting' }, Math.max(0, pool.admitted - running));
            }
          },
        }),
    ),
    rejections: metricOnce(
      registry,
      'worker_pool_rejections_total',
      (registers) =>
        new Counter({ name: 'worker_pool_rejections_total', help: 'Tasks refused because the pool and its queue were full.', labelNames: ['pool'], registers }),
    ),
    failures: metricOnce(
      registry,
      'worker_pool_task_failures_total',
      (registers) =>
        new Counter({
          name: 'worker_pool_task_failures_total',
          help: 'Tasks that failed: the task threw or its thread died (error), or it was cancelled (timeout).',
          labelNames: ['pool', 'reason'],
          registers,
        }),
    ),
  };
}
