export { PROBLEM_CONTENT_TYPE, problemType, type ProblemDetails } from './problem';
export { DomainError, MalformedBodyError, RequestValidationError, type DomainErrorOptions, type ValidationIssue } from './domain-error';
export { ProblemDetailsFilter, toProblem, type ProblemAnswer } from './problem-details.filter';
export { JsonBodyErrors, ProblemDetailsModule } from './problem-details.module';
export { ZodValidationPipe, toValidationIssues } from './zod-validation.pipe';
