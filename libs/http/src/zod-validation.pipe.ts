import { Injectable, type ArgumentMetadata, type PipeTransform } from '@nestjs/common';
import { createZodDto } from 'nestjs-zod';
import type { z } from 'zod';
import { RequestValidationError, type ValidationIssue } from './domain-error';

/** Turns zod issues into the `errors` member of a validation problem. */
export function toValidationIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** A nestjs-zod DTO class: the schema for validation, and for the OpenAPI document. */
interface ZodDtoClass {
  isZodDto: true;
  schema: z.ZodType;
}

const isZodDto = (metatype: unknown): metatype is ZodDtoClass => typeof metatype === 'function' && (metatype as Partial<ZodDtoClass>).isZodDto === true;

/**
 * A DTO class from a zod schema (nestjs-zod): `class PlaceOrderBody extends zodDto(placeOrderRequest) {}`.
 * Type a `@Body()` / `@Query()` with it and the app's validation pipe checks
 * it and the OpenAPI document describes it, from the one schema.
 */
export const zodDto = createZodDto;

/**
 * Validates (and coerces) a body, query or param with a zod schema.
 * ProblemDetailsModule registers one app-wide: any parameter typed with a
 * {@link zodDto} class is validated by its schema (`@Body() body: PlaceOrderBody`).
 * Constructed with a schema it checks that schema, for values that are no
 * parameter (a decoded cursor). A failure is a {@link RequestValidationError}:
 * 400 problem+json listing each field.
 */
@Injectable()
export class ZodValidationPipe<S extends z.ZodType = z.ZodType> implements PipeTransform<unknown, z.output<S>> {
  constructor(private readonly schema?: S) {}

  transform(value: unknown, metadata: ArgumentMetadata): z.output<S> {
    const schema = this.schema ?? (isZodDto(metadata.metatype) ? metadata.metatype.schema : undefined);
    if (!schema) return value as z.output<S>;
    const result = schema.safeParse(value);
    if (result.success) return result.data as z.output<S>;
    const where = metadata.type === 'custom' ? 'request' : metadata.data ? `${metadata.type} ${metadata.data}` : metadata.type;
    throw new RequestValidationError(toValidationIssues(result.error), where);
  }
}
