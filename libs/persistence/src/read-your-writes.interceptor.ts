import { Injectable, Logger, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, concatMap, from, map, throwError, type Observable } from 'rxjs';
import { ReadRouter } from './read-router';

/** HTTP methods that change nothing: a request with any other may have written. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * After every HTTP request that may have written (any method but GET, HEAD,
 * OPTIONS) by an authenticated user, whether it succeeded or failed (a failed
 * payment still commits its FAILED order), notes the primary's WAL position
 * for that user before the answer leaves, so that user's next reads go to
 * the primary until the replica has replayed it ({@link ReadRouter}).
 * Without a replica configured, noting is a no-op.
 */
@Injectable()
export class ReadYourWritesInterceptor implements NestInterceptor {
  private readonly logger = new Logger('ReadYourWrites');

  constructor(private readonly router: ReadRouter) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const request = context.switchToHttp().getRequest<{ method?: string; user?: { id?: unknown } }>();
    const userId = request.user?.id;
    if (SAFE_METHODS.has(request.method ?? 'GET') || typeof userId !== 'string') return next.handle();
    const note = (): Promise<void> =>
      this.router.noteWrite(userId).catch((error: unknown) => {
        // Without the mark this writer may read the replica before it has the write: say so, but the write itself stands.
        this.logger.warn({ err: error, userId }, 'could not note the write for read-your-writes');
      });
    return next.handle().pipe(
      concatMap((value) => from(note()).pipe(map(() => value))),
      catchError((error: unknown) => from(note()).pipe(concatMap(() => throwError(() => error)))),
    );
  }
}
