import type { Dispatcher } from 'undici';
import { ReadTimeoutSignal, StreamingAttemptHandler, type StreamedHead } from './attempt-handler';

/** Stands in for undici's per-request controller: records what the handler asks of the socket. */
function recordingController() {
  const state = { paused: false, resumes: 0, aborted: undefined as Error | undefined };
  const controller = {
    get aborted() {
      return state.aborted !== undefined;
    },
    get paused() {
      return state.paused;
    },
    get reason() {
      return state.aborted ?? null;
    },
    abort: (reason: Error) => void (state.aborted = reason),
    pause: () => void (state.paused = true),
    resume: () => {
      state.paused = false;
      state.resumes += 1;
    },
  } satisfies Dispatcher.DispatchController;
  return { controller, state };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('StreamingAttemptHandler', () => {
  it('When the reader falls behind, then the socket is paused and the read timeout does not run until the reader asks for more', async () => {
    const { controller, state } = recordingController();
    let head: StreamedHead | undefined;
    const handler = new StreamingAttemptHandler(
      50,
      (h) => (head = h),
      () => undefined,
      () => undefined,
      (e) => e,
    );
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 200, {});
    // Chunks nobody reads, until the body's buffer is full.
    for (let i = 0; i < 100 && !state.paused; i += 1) handler.onResponseData(controller, Buffer.alloc(4_096));
    expect(state.paused).toBe(true);

    // Three read timeouts of the reader's own slowness: not the partner's fault.
    await sleep(150);
    expect(state.aborted).toBeUndefined();

    head?.body.read();
    expect(state.resumes).toBe(1);
    // Now the reader waits and the partner is silent: that is a read timeout.
    await sleep(150);
    expect(state.aborted).toBeInstanceOf(ReadTimeoutSignal);
  });

  it('When the reader destroys the body before its end, then the request is aborted', () => {
    const { controller, state } = recordingController();
    let head: StreamedHead | undefined;
    const handler = new StreamingAttemptHandler(
      1_000,
      (h) => (head = h),
      () => undefined,
      () => undefined,
      (e) => e,
    );
    handler.onRequestStart(controller);
    handler.onResponseStart(controller, 200, {});
    head?.body.destroy();
    expect(state.aborted).toBeInstanceOf(Error);
  });
});
