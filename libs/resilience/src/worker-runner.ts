// The module every WorkerPool thread loads (piscina's `filename`). It imports
// nothing but Node's own modules: each thread loads it, and the task module it
// names (a pure function) is all the thread needs besides.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { once } from 'node:events';
import { getPriority, setPriority } from 'node:os';
import { Readable } from 'node:stream';
import { threadId, type MessagePort } from 'node:worker_threads';

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
  /** Where the chunks of the caller's stream arrive, if it passed one (see {@link StreamMessage}). */
  stream?: MessagePort;
  /** Names of native helper threads to lower to this thread's priority after the task (WorkerPoolOptions.helperThreads). */
  helperThreads?: string[];
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

/** One message of a task's stream, main thread to task thread, each sent when the thread posts `'next'`. */
export type StreamMessage = { chunk: Uint8Array } | { end: true } | { error: string };

type TaskFunction = (input: unknown, task: { traceparent?: string; stream?: Readable }) => unknown;

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
  // Before (threads another task started meanwhile), while it runs (those it starts: libvips's come and go), and after.
  const helpers = envelope.helperThreads;
  let helperScan: NodeJS.Timeout | undefined;
  if (helpers?.length) {
    lowerHelperThreads(helpers);
    helperScan = setInterval(() => lowerHelperThreads(helpers), HELPER_SCAN_MS).unref();
  }
  try {
    // require, not import(): a service run from source loads .ts through its require hook (@swc-node/register).
    const run = (require(envelope.module) as Record<string, TaskFunction>)[envelope.export];
    if (typeof run !== 'function') throw new TypeError(`${envelope.module} exports no function ${envelope.export}`);
    const output = await run(envelope.input, { traceparent: envelope.traceparent, stream: envelope.stream && readableFrom(envelope.stream) });
    return { output, startedAt, endedAt: now(), threadId };
  } finally {
    envelope.stream?.close();
    clearInterval(helperScan);
    if (helpers?.length) lowerHelperThreads(helpers);
    if (Atomics.compareExchange(envelope.state, 0, TaskState.RUNNING, TaskState.SETTLED) === TaskState.RUNNING) {
      Atomics.sub(envelope.counters, IN_FLIGHT, 1);
    }
  }
}

/** The caller's stream, as it arrives on `port`: a chunk is asked for only when the reader wants one. */
function readableFrom(port: MessagePort): Readable {
  return Readable.from(
    (async function* () {
      for (;;) {
        const next = once(port, 'message') as Promise<[StreamMessage]>;
        port.postMessage('next');
        const [message] = await next;
        if ('end' in message) return;
        if ('error' in message) throw new Error(message.error);
        yield Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength);
      }
    })(),
    { objectMode: false },
  );
}

/**
 * How often a running task looks for new helper threads. libvips starts and
 * ends its threads as the work needs them (8 s of a rendering pool saw a new
 * set), each at the priority of the libuv thread that started it: between
 * two looks, a new one runs at the event loop's priority. A look reads
 * /proc/self/task (a few dozen small reads), well under a millisecond.
 */
const HELPER_SCAN_MS = 20;

/** Helper threads already at this thread's priority (or gone): not looked at again. */
const lowered = new Set<number>();

/**
 * Lowers the process's threads named one of `names` to this thread's
 * priority (Linux: `setpriority` on a thread id changes that thread alone).
 * A thread started by one of them later inherits its priority; one started
 * by libuv's threadpool (whose threads stay at the event loop's priority:
 * the loop's own file, DNS and zlib work runs there) is caught by the next
 * look of any of the pool's threads (every HELPER_SCAN_MS while a task runs,
 * and at its start and end). Best
 * effort: without /proc it does nothing, and a thread that exits meanwhile
 * is skipped.
 */
function lowerHelperThreads(names: string[]): void {
  let own: number;
  let tids: string[];
  try {
    // "<pid>/task/<tid>": this thread's kernel id, which os.getPriority takes.
    own = getPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()));
    tids = readdirSync('/proc/self/task');
  } catch {
    return;
  }
  // Threads come and go: forget the ones gone, so the set stays the size of the process's threads.
  const present = new Set(tids.map(Number));
  for (const tid of lowered) if (!present.has(tid)) lowered.delete(tid);
  for (const tid of present) {
    const entry = String(tid);
    if (lowered.has(tid)) continue;
    try {
      if (!names.includes(readFileSync(`/proc/self/task/${entry}/comm`, 'utf8').trim())) continue;
      if (getPriority(tid) < own) setPriority(tid, own);
      lowered.add(tid);
    } catch {
      // Gone between the listing and now.
    }
  }
}
