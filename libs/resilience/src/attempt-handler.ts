import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { buildConnector, errors, type Dispatcher } from 'undici';

/** A whole answer, body read. */
export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Raised (and mapped to DownstreamTimeoutError 'read') when the read timeout fires. */
export class ReadTimeoutSignal extends Error {
  readonly code = 'CONVEYOR_READ_TIMEOUT';
}

/** Raised (and mapped to DownstreamTimeoutError 'deadline') when the call's overall deadline passes. */
export class DeadlineSignal extends Error {
  readonly code = 'CONVEYOR_DEADLINE';
}

/** Raised (and mapped to DownstreamResponseTooLargeError) when the body passes the cap. */
export class TooLargeSignal extends Error {
  readonly code = 'CONVEYOR_TOO_LARGE';
}

/** Bounds of one attempt besides the read timeout. */
export interface AttemptLimits {
  /** Epoch ms at which the logical call's deadline passes. */
  deadlineAt?: number;
  /** Largest body read (AttemptHandler only). */
  maxBytes?: number;
}

/** Arms the read timeout, or the deadline when it comes first. */
function armTimer(readTimeoutMs: number, deadlineAt: number | undefined, abort: (error: Error) => void): NodeJS.Timeout {
  const untilDeadline = deadlineAt === undefined ? Infinity : deadlineAt - Date.now();
  if (untilDeadline <= readTimeoutMs) return setTimeout(() => abort(new DeadlineSignal('call deadline passed')), Math.max(0, untilDeadline));
  return setTimeout(() => abort(new ReadTimeoutSignal(`no data for ${readTimeoutMs} ms`)), readTimeoutMs);
}

/**
 * Collects one answer and enforces the read timeout with a native timer: it
 * starts when the request is handed to a connected socket, and restarts at the
 * response head and at every body chunk (so a slow drip fails, a long but
 * steady body does not).
 *
 * Why not undici's headersTimeout/bodyTimeout: undici runs them on its coarse
 * "fast timers" (a ~0.5 s tick), so a 300 ms bound fires anywhere up to ~1 s.
 * A reference client should fire at its bound.
 */
export class AttemptHandler implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private timer?: NodeJS.Timeout;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private readonly chunks: Buffer[] = [];
  private bytes = 0;

  constructor(
    private readonly readTimeoutMs: number,
    private readonly resolve: (answer: RawAnswer) => void,
    private readonly reject: (error: Error) => void,
    private readonly limits: AttemptLimits = {},
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.arm();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
    this.arm();
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.limits.maxBytes !== undefined && this.bytes > this.limits.maxBytes) {
      clearTimeout(this.timer);
      this.chunks.length = 0;
      controller.abort(new TooLargeSignal(`answer larger than ${this.limits.maxBytes} bytes`));
      return;
    }
    this.chunks.push(chunk);
    this.arm();
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    this.resolve({ status: this.status, headers: this.headers, body: Buffer.concat(this.chunks) });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    clearTimeout(this.timer);
    this.reject(error);
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = armTimer(this.readTimeoutMs, this.limits.deadlineAt, (error) => this.controller?.abort(error));
  }
}

/**
 * undici's connector with the connect timeout on a native timer, for the same
 * reason as above: undici's own connect timeout ticks at ~0.5 s.
 */
export function preciseConnector(connectTimeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ timeout: 0 });
  return (options, callback) => {
    let settled = false;
    // The connector returns its socket although its type says void.
    const socket = connect(options, (error, connected) => {
      if (settled) {
        connected?.destroy();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (error) callback(error, null);
      else callback(null, connected as NonNullable<typeof connected>);
    }) as unknown as Socket | undefined;
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      socket?.destroy();
      callback(new errors.ConnectTimeoutError(`connect to ${options.hostname}:${options.port} timed out after ${connectTimeoutMs} ms`), null);
    }, connectTimeoutMs);
  };
}

/** The head of a 2xx/3xx answer whose body is still arriving. */
export interface StreamedHead {
  status: number;
  headers: IncomingHttpHeaders;
  body: Readable;
}

/**
 * Like AttemptHandler, but hands the body over as a Readable as soon as a
 * 2xx/3xx head arrives (4xx/5xx answers are small: they are collected whole,
 * as before, so the caller can map them to errors and retry).
 *
 * Back-pressure: when the reader's buffer is full, the socket is paused
 * (`controller.pause()`) and resumed on the next `read()`. The read timeout
 * measures the partner's silence only: it is stopped while we are the ones
 * not reading, and restarted when the reader asks for more.
 *
 * A failure after the head (read timeout, connection lost) destroys the body
 * with `mapBodyError(error)`; a reader that destroys the body early aborts
 * the request, so the connection is not left half-read.
 */
export class StreamingAttemptHandler implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private timer?: NodeJS.Timeout;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private body?: Readable;
  private errorChunks?: Buffer[];
  private done = false;

  constructor(
    private readonly readTimeoutMs: number,
    private readonly onHead: (head: StreamedHead) => void,
    private readonly onErrorAnswer: (answer: RawAnswer) => void,
    private readonly reject: (error: Error) => void,
    private readonly mapBodyError: (error: Error) => Error,
    private readonly limits: AttemptLimits = {},
  ) {}

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.arm();
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
    this.arm();
    if (statusCode >= 400) {
      this.errorChunks = [];
      return;
    }
    this.body = new Readable({
      read: () => {
        if (this.done) return;
        if (controller.paused) controller.resume();
        this.arm();
      },
      destroy: (error, callback) => {
        clearTimeout(this.timer);
        // The reader gave up before the end: stop the transfer.
        if (!this.done) {
          this.done = true;
          controller.abort(error ?? new Error('streamed body destroyed by its reader'));
        }
        callback(error);
      },
    });
    this.onHead({ status: statusCode, headers, body: this.body });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.errorChunks) {
      this.errorChunks.push(chunk);
      this.arm();
      return;
    }
    if (this.body?.push(chunk)) {
      this.arm();
    } else {
      // The reader is behind: hold the socket, and do not blame the partner for the wait.
      clearTimeout(this.timer);
      controller.pause();
    }
  }

  onResponseEnd(): void {
    clearTimeout(this.timer);
    if (this.errorChunks) {
      this.onErrorAnswer({ status: this.status, headers: this.headers, body: Buffer.concat(this.errorChunks) });
      return;
    }
    this.done = true;
    this.body?.push(null);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    clearTimeout(this.timer);
    if (this.body) {
      if (this.done) return; // destroyed by the reader: it already knows
      this.done = true;
      this.body.destroy(this.mapBodyError(error));
    } else {
      this.reject(error);
    }
  }

  // The deadline bounds the wait for the head only: the body is read at the caller's pace.
  private arm(): void {
    clearTimeout(this.timer);
    this.timer = armTimer(this.readTimeoutMs, this.body ? undefined : this.limits.deadlineAt, (error) => this.controller?.abort(error));
  }
}
