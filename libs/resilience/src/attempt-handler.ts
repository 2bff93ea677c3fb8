import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
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

  constructor(
    private readonly readTimeoutMs: number,
    private readonly resolve: (answer: RawAnswer) => void,
    private readonly reject: (error: Error) => void,
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

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
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
    this.timer = setTimeout(() => this.controller?.abort(new ReadTimeoutSignal(`no data for ${this.readTimeoutMs} ms`)), this.readTimeoutMs);
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
