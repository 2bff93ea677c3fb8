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
export const zodDto: typeof createZodDto = (schema, options) => {
  const dto = createZodDto(schema, options);
  const describe = dto._OPENAPI_METADATA_FACTORY.bind(dto);
  // A static method on the class (not an own property of its instances): @nestjs/swagger calls it on the subclass too.
  Object.defineProperty(dto, '_OPENAPI_METADATA_FACTORY', { value: () => withoutTypeArrays(describe()), configurable: true, writable: true });
  return dto;
};

/** Keywords whose values are data, not schemas: never rewritten. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'example', 'examples']);
/** Keywords whose values map names to schemas (nestjs-zod carries `$defs` under its own `x-nestjs_zod-$defs`). */
const isSchemaMap = (keyword: string): boolean => keyword === 'properties' || keyword === 'patternProperties' || keyword.endsWith('$defs');

/**
 * zod ≥ 4.5 spells a union of bare types as a `type` array (`z.string().nullable()`
 * is `{ type: ['string', 'null'] }`), and @nestjs/swagger reads an array-valued
 * `type` on a property as "an array of the first type": the document said
 * `{ type: 'array', items: { type: 'string' } }` for every nullable string.
 * nestjs-zod 5.5 (the newest) passes zod's output through unchanged
 * (BenLorantfy/nestjs-zod#473, fix open as #477). Until it does, the metadata it
 * hands to swagger is rewritten here to zod's previous spelling, `anyOf` of one
 * bare type each, at every depth so the document has one spelling: the same
 * values, which swagger leaves alone (OpenAPI 3.1, as the document is, takes
 * `{ type: 'null' }` as JSON Schema does).
 */
function withoutTypeArrays(properties: unknown): unknown {
  if (typeof properties !== 'object' || properties === null) return properties;
  const rewriteMap = (map: unknown, asProperties: boolean): unknown =>
    typeof map === 'object' && map !== null && !Array.isArray(map)
      ? Object.fromEntries(Object.entries(map).map(([name, schema]) => [name, rewrite(schema, asProperties)]))
      : map;
  const rewrite = (value: unknown, isProperty = false): unknown => {
    if (Array.isArray(value)) return value.map((item) => rewrite(item));
    if (typeof value !== 'object' || value === null) return value;
    const schema: Record<string, unknown> = {};
    for (const [keyword, inner] of Object.entries(value)) {
      schema[keyword] = DATA_KEYWORDS.has(keyword) ? inner : isSchemaMap(keyword) ? rewriteMap(inner, false) : rewrite(inner);
    }
    if (Array.isArray(schema.type) && schema.type.every((type) => typeof type === 'string')) {
      schema.anyOf = schema.type.map((type: string) => ({ type }));
      // nestjs-zod drops an empty `type` from a property it marked as not a plain type; below one, the key goes.
      if (isProperty) schema.type = '';
      else delete schema.type;
    }
    return schema;
  };
  return rewriteMap(properties, true);
}

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
    const empty = metadata.type === 'query' ? emptyNumericParameters(schema, value) : [];
    const result = schema.safeParse(value);
    if (result.success && empty.length === 0) return result.data as z.output<S>;
    const issues = [...empty, ...(result.success ? [] : toValidationIssues(result.error).filter((issue) => !empty.some((e) => e.path === issue.path)))];
    const where = metadata.type === 'custom' ? 'request' : metadata.data ? `${metadata.type} ${metadata.data}` : metadata.type;
    throw new RequestValidationError(issues, where);
  }
}

/** Wrappers that leave the type of the value alone: a numeric field inside one is still numeric. */
const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'nonoptional', 'readonly', 'catch']);

interface WrappedDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
}

/** The definition under the wrappers and transforms of a schema: what the input has to be. */
function inputDef(schema: z.ZodType | undefined): WrappedDef | undefined {
  let def = schema?.def as WrappedDef | undefined;
  while (def && (WRAPPERS.has(def.type) || def.type === 'pipe')) def = (def.type === 'pipe' ? def.in : def.innerType)?.def as WrappedDef | undefined;
  return def;
}

const isNumeric = (schema: z.ZodType | undefined): boolean => ['number', 'bigint'].includes(inputDef(schema)?.type ?? '');

/**
 * Query parameters given empty (`?offset=`, `?limit=%20`) whose schema is a
 * number. `z.coerce.number()` reads `""` as 0, so `?offset=` would pass as
 * offset 0 and `?limit=` fail as "too small" or, once defaulted, not at all:
 * an empty value is no number, and the document says the parameter is one.
 */
function emptyNumericParameters(schema: z.ZodType, query: unknown): ValidationIssue[] {
  const shape = inputDef(schema)?.shape;
  if (!shape || typeof query !== 'object' || query === null) return [];
  return Object.entries(query)
    .filter(([name, given]) => typeof given === 'string' && given.trim() === '' && Object.hasOwn(shape, name) && isNumeric(shape[name]))
    .map(([name]) => ({ path: name, message: 'must be a number; the parameter is empty' }));
}
