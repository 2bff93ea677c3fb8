import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import type { z } from 'zod';
import { RequestValidationError, type ValidationIssue } from './domain-error';

/** Turns zod issues into the `errors` member of a validation problem. */
export function toValidationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/**
 * Validates (and coerces) a body, query or param with a zod schema:
 * `@Body(new ZodValidationPipe(createPaymentRequest)) body: CreatePaymentRequest`.
 * A failure is a {@link RequestValidationError}: 400 problem+json listing each field.
 */
@Injectable()
export class ZodValidationPipe<S extends z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(private readonly schema: S) {}

  transform(value: unknown, metadata: ArgumentMetadata): z.output<S> {
    const result = this.schema.safeParse(value);
    if (result.success) return result.data;
    const where = metadata.type === 'custom' ? 'request' : metadata.data ? `${metadata.type} ${metadata.data}` : metadata.type;
    throw new RequestValidationError(toValidationIssues(result.error), where);
  }
}
