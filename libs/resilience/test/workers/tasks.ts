// The task function the WorkerPool spec runs on its threads: what it does is in its input.

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
  | { do: 'hang' };

export function specTask(input: SpecTask, task: { traceparent?: string }): unknown {
  switch (input.do) {
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
