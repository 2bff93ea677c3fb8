export { PROBLEM_CONTENT_TYPE, problemType, type ProblemDetails } from './problem';
export {
  DomainError,
  MalformedBodyError,
  MethodNotAllowedError,
  RequestValidationError,
  type DomainErrorOptions,
  type ErrorKind,
  type ValidationIssue,
} from './domain-error';
export { statusOfKind } from './error-status';
export { IdempotencyKeyRequired, IdempotencyKeyReused, idempotencyKeyHeader, requestFingerprint } from './idempotency';
export { ProblemDetailsFilter, toProblem, type ProblemAnswer } from './problem-details.filter';
export { JsonBodyErrors, MethodNotAllowed, ProblemDetailsModule } from './problem-details.module';
export { ZodValidationPipe, toValidationIssues, zodDto } from './zod-validation.pipe';
export { ApiProblems, buildOpenApiDocument, OPENAPI_OPTIONS, OpenApiDocument, OpenApiModule, publishOpenApiDocument, type OpenApiOptions } from './openapi';
export { IS_PUBLIC_ROUTE, Public } from './public-route';
export {
  CREATED_AT_EXACT,
  createdAtIdCursor,
  cursorCodec,
  decodeKeysetCursor,
  encodeKeysetCursor,
  keysetPage,
  type CursorCodec,
  type CursorCodecOptions,
  type KeysetCursor,
  type KeysetPage,
  type KeysetPageRequest,
} from './keyset-cursor';
export { storedText } from './stored-text';
