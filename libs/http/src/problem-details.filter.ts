import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { ZodError } from 'zod';
import { DomainError, RequestValidationError } from './domain-error';
import { statusOfKind } from './error-status';
import { PROBLEM_CONTENT_TYPE, problemType, type ProblemDetails } from './problem';
import { toValidationIssues } from './zod-validation.pipe';

/** A problem body and the headers that go with it. */
export interface ProblemAnswer {
  problem: ProblemDetails;
  headers: Record<string, string>;
  /**
   * How the filter logs it: `error` when nothing in it was meant for the client
   * (with its stack), `warn` for a domain error on this side or a partner's (5xx:
   * its cause holds what the client is not told, addresses and partner messages),
   * nothing for the caller's own mistakes (4xx).
   */
  log: 'error' | 'warn' | undefined;
}

const STANDARD_MEMBERS = new Set(['type', 'title', 'status', 'code', 'detail', 'instance']);

const UNEXPECTED_DETAIL = 'The server failed to handle the request; it has been logged.';

const title = (status: number): string => STATUS_CODES[status] ?? 'Error';

function httpExceptionDetail(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.join('; ');
  return typeof message === 'string' ? message : exception.message;
}

/**
 * Maps anything thrown while serving a request to a problem body:
 * - {@link DomainError}: the status of its kind ({@link statusOfKind}), its
 *   code, detail, extensions and Retry-After (never its cause);
 * - a zod error that escaped validation: 400 `REQUEST.VALIDATION_FAILED`;
 * - Nest's HttpException (404 for unknown routes, 413 from Fastify, …):
 *   its status and `HTTP.<STATUS_NAME>`; a 5xx one keeps its message for
 *   the log and answers a detail that leaks nothing;
 * - anything else: 500 `INTERNAL.UNEXPECTED`, with a detail that leaks nothing.
 */
export function toProblem(exception: unknown, instance: string): ProblemAnswer {
  const error = exception instanceof ZodError ? new RequestValidationError(toValidationIssues(exception)) : exception;
  if (error instanceof DomainError) {
    const status = statusOfKind[error.kind];
    const headers: Record<string, string> = { ...error.headers };
    if (error.retryAfterSeconds !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
    return {
      problem: {
        type: problemType(error.code),
        title: title(status),
        status,
        code: error.code,
        detail: error.message,
        instance,
        // Extensions follow the standard members and can never replace them.
        ...Object.fromEntries(Object.entries(error.extensions).filter(([name]) => !STANDARD_MEMBERS.has(name))),
      },
      headers,
      log: status >= 500 ? 'warn' : undefined,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    return {
      problem: {
        type: 'about:blank',
        title: title(status),
        status,
        code: `HTTP.${HttpStatus[status] ?? status}`,
        detail: status >= 500 ? UNEXPECTED_DETAIL : httpExceptionDetail(error),
        instance,
      },
      headers: {},
      log: status >= 500 ? 'error' : undefined,
    };
  }
  return {
    problem: {
      type: 'about:blank',
      title: title(500),
      status: 500,
      code: 'INTERNAL.UNEXPECTED',
      detail: UNEXPECTED_DETAIL,
      instance,
    },
    headers: {},
    log: 'error',
  };
}

/**
 * The one exception filter of an app (register it through ProblemDetailsModule):
 * every error answer is `application/problem+json` with a stable `code`.
 * Error answers are never cached (`Cache-Control: no-store`, whatever the
 * route's own header says). Unexpected errors are logged here, once, with their stack; 5xx domain errors
 * once at warn with their cause (what the body leaves out); 4xx are not, as
 * they are the caller's business.
 */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetails');

  catch(exception: unknown, host: ArgumentsHost): void {
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const instance = request.url;
    const { problem, headers, log } = toProblem(exception, instance);
    const fields = { err: exception, method: request.method, url: instance, code: problem.code };
    if (log === 'error') this.logger.error(fields, 'request failed with an unexpected error');
    else if (log === 'warn') this.logger.warn(fields, `request failed: ${problem.code}`);
    if (reply.sent) return; // a streamed answer broke mid-way; the log above is all that can be done
    // Nest applies a route's @Header before its handler runs: without this a
    // cacheable route's error (404, 503) would be kept by shared caches.
    reply
      .status(problem.status)
      .headers({ 'cache-control': 'no-store', ...headers })
      .type(PROBLEM_CONTENT_TYPE)
      .send(problem);
  }
}
