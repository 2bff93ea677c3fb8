// The task function the WorkerPool spec runs on its threads: what it does is in its input.
import { readlinkSync } from 'node:fs';
import { getPriority } from 'node:os';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

export type SpecTask =
  | { do: 'square'; n: number }
  /** Blocks the thread without using a CPU until the test stores 1 in `gate[0]` (and notifies). */
  | { do: 'wait'; gate: Int32Array; value: number }
  /** Answers the traceparent the task got. */
  | { do: 'traceparent' }
  | { do: 'throw'; message: string }
  /** Ends the thread under the task, as a native crash of one would. */
  | { do: 'exit' }
  /** Never returns: blocked on a word nobody changes. */
  | { do: 'hang' }
  /** Answers this thread's nice value (Linux: its own, by its kernel thread id). */
  | { do: 'nice' }
  /** Answers the task's stream, read whole, as UTF-8. */
  | { do: 'read-stream' }
  /** Reads the stream a chunk at a time, pausing after each, noting `pulled[0]` (how many chunks the main thread had pulled) after each. */
  | { do: 'read-stream-slowly'; pulled: Int32Array };

export function specTask(input: SpecTask, task: { traceparent?: string; stream?: Readable }): unknown {
  switch (input.do) {
    case 'nice':
      return getPriority(ownTid());
    case 'read-stream':
      return readAll(task.stream);
    case 'read-stream-slowly':
      return readSlowly(task.stream, input.pulled);
    case 'square':
      return input.n * input.n;
    case 'wait':
      Atomics.wait(input.gate, 0, 0);
      return input.value;
    case 'traceparent':
      return task.traceparent;
    case 'throw':
      throw new Error(input.message);
    case 'exit':
      return process.exit(1);
    case 'hang':
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      throw new Error('unreachable');
  }
}

async function readAll(stream: Readable | undefined): Promise<string> {
  if (!stream) throw new Error('no stream');
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function readSlowly(stream: Readable | undefined, pulled: Int32Array): Promise<{ read: number; pulledWhenRead: number[] }> {
  if (!stream) throw new Error('no stream');
  const pulledWhenRead: number[] = [];
  for await (const _chunk of stream) {
    void _chunk;
    await sleep(5);
    pulledWhenRead.push(Atomics.load(pulled, 0));
  }
  return { read: pulledWhenRead.length, pulledWhenRead };
}

/** This thread's kernel id ("<pid>/task/<tid>"). */
export const ownTid = (): number => Number(readlinkSync('/proc/thread-self').split('/').pop());
