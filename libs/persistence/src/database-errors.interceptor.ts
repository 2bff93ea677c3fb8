import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { catchError, throwError, type Observable } from 'rxjs';
import { DatabaseUnavailable, isDatabaseUnavailable } from './database.errors';

/** Turns "no connection to be had" into {@link DatabaseUnavailable} (503); every other error passes unchanged. */
@Injectable()
export class DatabaseErrorsInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(catchError((error: unknown) => throwError(() => (isDatabaseUnavailable(error) ? new DatabaseUnavailable(error) : error))));
  }
}
