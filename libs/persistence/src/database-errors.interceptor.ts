import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import { DatabaseBusy, DatabaseUnavailable, isDatabaseBusy, isDatabaseUnavailable } from './database.errors';

/**
 * Turns "no connection to be had" into {@link DatabaseUnavailable} and a
 * transaction rolled back for a lock timeout, deadlock or serialization
 * conflict that no use case handled into {@link DatabaseBusy} (both 503 +
 * Retry-After); every other error passes unchanged.
 */
@Injectable()
export class DatabaseErrorsInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next
      .handle()
      .pipe(
        catchError((error: unknown) =>
          throwError(() => (isDatabaseUnavailable(error) ? new DatabaseUnavailable(error) : isDatabaseBusy(error) ? new DatabaseBusy(error) : error)),
        ),
      );
  }
}
