// The module every WorkerPool thread loads (piscina's `filename`). It imports
// nothing but Node's own modules: each thread loads it, and the task module it
// names (a pure function) is all the thread needs besides.
import { threadId } from 'node:worker_threads';

/** Where a task is, in its own shared word: the worker and the pool both move it, by compare-and-exchange, so exactly one of them counts its end. */
export const TaskState = { QUEUED: 0, RUNNING: 1, SETTLED: 2 } as const;

/** Index of the in-flight count in the pool's shared Int32Array. */
export const IN_FLIGHT = 0;

/** What the pool posts to a thread for one task. */
export interface WorkerTaskEnvelope {
  /** Absolute path of the task module, and the function it exports. */
  module: string;
  export: string;
  input: unknown;
  /** The submitting request's W3C traceparent, for the task's logs; the pool records the span. */
  traceparent?: string;
  /** The pool's counters (a SharedArrayBuffer every thread sees): [IN_FLIGHT]. */
  counters: Int32Array;
  /** This task's state (a SharedArrayBuffer of its own). */
  state: Int32Array;
}

/** What a thread posts back: the output, and when the task ran there (epoch ms), for the span. */
export interface WorkerTaskOutcome {
  output: unknown;
  startedAt: number;
  endedAt: number;
  threadId: number;
}

type TaskFunction = (input: unknown, task: { traceparent?: string }) => unknown;

const now = (): number => performance.timeOrigin + performance.now();

/**
 * Runs one task on this thread. The in-flight count goes up with
 * `Atomics.add` when the task starts and down with `Atomics.sub` when it
 * ends: several threads change the same word at once, and a plain `+=`
 * (load, add, store) would lose some of their changes. A thread terminated
 * mid-task (timeout, crash) never reaches the `finally`; the pool then wins
 * the compare-and-exchange on `state` and takes the task off the count.
 */
export default async function runWorkerTask(envelope: WorkerTaskEnvelope): Promise<WorkerTaskOutcome> {
  const startedAt = now();
  // State first, then the count: a thread stopped between the two (only a
  // timeout stops one, long after this) would leave the count one low, never
  // stuck high.
  Atomics.store(envelope.state, 0, TaskState.RUNNING);
  Atomics.add(envelope.counters, IN_FLIGHT, 1);
  // Starts the pool's timeout for this task (it waits on the word with Atomics.waitAsync).
  Atomics.notify(envelope.state, 0);
  try {
    // require, not import(): a service run from source loads .ts through its require hook (@swc-node/register).
    const run = (require(envelope.module) as Record<string, TaskFunction>)[envelope.export];
    if (typeof run !== 'function') throw new TypeError(`${envelope.module} exports no function ${envelope.export}`);
    const output = await run(envelope.input, { traceparent: envelope.traceparent });
    return { output, startedAt, endedAt: now(), threadId };
  } finally {
    if (Atomics.compareExchange(envelope.state, 0, TaskState.RUNNING, TaskState.SETTLED) === TaskState.RUNNING) {
      Atomics.sub(envelope.counters, IN_FLIGHT, 1);
    }
  }
}
