import { Controller, Get, Injectable, Module, Res, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ApiResponse, DocumentBuilder, SwaggerModule, type HeaderObject, type OpenAPIObject, type ResponseObject } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { DomainError, type ErrorKind } from './domain-error';
import { statusOfKind } from './error-status';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { Public } from './public-route';

/** What the document says about the service. */
export interface OpenApiOptions {
  title: string;
  description: string;
  version?: string;
  /**
   * The app checks bearer tokens (libs/auth's guard): every operation not
   * marked `@Public()` then requires the `bearer` scheme and lists its 401.
   */
  bearerAuth?: boolean;
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };

/**
 * Headers every answer of a status carries, whatever the route (libs/auth's
 * errors, the problem filter): documented on each such response, so that
 * clients can rely on them and the fuzz runs check they are sent.
 */
const HEADERS_OF_STATUS: Record<string, Record<string, HeaderObject>> = {
  '401': {
    'WWW-Authenticate': {
      description: 'RFC 6750 challenge: `Bearer realm="conveyor"`, with `error="invalid_token"` for a bad token',
      required: true,
      schema: { type: 'string', pattern: '^Bearer ' },
    },
  },
  '429': {
    'Retry-After': {
      description: 'Seconds until the limit lets this caller through again',
      required: true,
      schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
    },
  },
};

/** RFC 9457 problem details plus the stable `code` (libs/http/src/problem.ts). */
const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details; `code` is the stable name clients branch on.',
  required: ['type', 'title', 'status', 'code', 'detail', 'instance'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string' },
    detail: { type: 'string' },
    instance: { type: 'string' },
  },
  additionalProperties: true,
};

/**
 * Declares the error answers of a route by the kinds of domain error it can
 * throw, each with what it means there: `@ApiProblems({ not_found: 'No such
 * order', conflict: 'Not cancellable in its state' })`. The status comes from
 * the same table the problem filter uses ({@link statusOfKind}); the body is
 * a `Problem`. Kinds that share a status are listed under it together.
 */
export function ApiProblems(problems: Partial<Record<ErrorKind, string>>): MethodDecorator {
  const byStatus = new Map<number, string[]>();
  for (const [kind, description] of Object.entries(problems) as [ErrorKind, string][]) {
    const status = statusOfKind[kind];
    byStatus.set(status, [...(byStatus.get(status) ?? []), description]);
  }
  const decorators = [...byStatus].map(([status, descriptions]) =>
    ApiResponse({ status, description: descriptions.join('; '), content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } }),
  );
  return (target, key, descriptor) => {
    for (const decorate of decorators) decorate(target, key, descriptor);
  };
}

/**
 * The OpenAPI 3.1 document of an app, generated from its routes (@nestjs/swagger)
 * and its zod DTOs (nestjs-zod). Every operation also gets the 500 every
 * route can answer (`INTERNAL.UNEXPECTED`), and `Problem` is a component.
 * With `bearerAuth`, operations not marked `@Public()` require the bearer
 * scheme (with the scopes of libs/auth `@RequireScope`, `x-required-scopes`)
 * and document 401 and 403: the roles of `@Roles` (`x-required-roles`), the
 * scopes, or for any other route a service identity's token, which opens only
 * routes that name its scope.
 * Those also document 503 (the token keys cannot be fetched). Operations that
 * take a body document the 413 and 415 Fastify answers before any route code.
 * A 401 documents its `WWW-Authenticate`, a 429 its `Retry-After`.
 */
export function buildOpenApiDocument(app: INestApplication, options: OpenApiOptions): OpenAPIObject {
  const config = new DocumentBuilder()
    .setOpenAPIVersion('3.1.0')
    .setTitle(options.title)
    .setDescription(options.description)
    .setVersion(options.version ?? '1.0.0')
    .build();
  const document = cleanupOpenApiDoc(SwaggerModule.createDocument(app, config, { operationIdFactory: (controller, method) => `${controller}_${method}` }), {
    version: '3.1',
  });
  document.components = { ...document.components, schemas: { ...document.components?.schemas, Problem: PROBLEM_SCHEMA } };
  if (options.bearerAuth) {
    document.components.securitySchemes = { ...document.components.securitySchemes, bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } };
  }
  for (const operations of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = operations[method];
      if (!operation) continue;
      // Closed by default, as the auth guard is: only @Public() operations go without a token.
      const extensions = operation as unknown as Record<string, unknown>;
      if (!options.bearerAuth) {
        // No token checks in this app: nothing to declare.
      } else if (extensions['x-public'] === true) {
        operation.security = [];
      } else {
        const scopes = extensions['x-required-scopes'];
        const roles = extensions['x-required-roles'];
        // OpenAPI 3.1 lets any scheme list what it requires: here the scopes of a service identity.
        operation.security = [{ bearer: Array.isArray(scopes) ? (scopes as string[]) : [] }];
        operation.responses['401'] ??= {
          description: 'No bearer token (AUTH.TOKEN_MISSING), or one that is expired, not ours or malformed (AUTH.TOKEN_INVALID)',
          content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
        };
        operation.responses['403'] ??= {
          description: Array.isArray(scopes)
            ? `For service identities (client-credentials tokens) granted ${scopes.join(' and ')}: any other token, an end user's included (AUTH.INSUFFICIENT_SCOPE)`
            : Array.isArray(roles)
              ? `The token lacks the role ${roles.join(' or ')}, or is a service identity's (AUTH.FORBIDDEN)`
              : "A service identity's token: this route is for users (AUTH.FORBIDDEN)",
          content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
        };
        const keysUnavailable = 'the keys to check the token against cannot be fetched (AUTH.KEYS_UNAVAILABLE; Retry-After)';
        const unavailable = operation.responses['503'] as ResponseObject | undefined;
        if (unavailable) unavailable.description = `${unavailable.description}; or ${keysUnavailable}`;
        else operation.responses['503'] = { description: `Try again: ${keysUnavailable}`, content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } };
      }
      if (operation.requestBody) {
        // Fastify answers these before any route code runs (its body limit, its content-type parsers).
        operation.responses['413'] ??= {
          description: 'The body is larger than the service takes (HTTP_BODY_LIMIT_BYTES) (HTTP.PAYLOAD_TOO_LARGE)',
          content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
        };
        operation.responses['415'] ??= {
          description: 'The body has a Content-Type the operation does not take (HTTP.UNSUPPORTED_MEDIA_TYPE)',
          content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
        };
      }
      if (typeof extensions['x-rate-limit'] === 'string') {
        operation.responses['429'] ??= {
          description: `Past the rate limit ${extensions['x-rate-limit']} for this user or address (RATE_LIMIT.EXCEEDED); Retry-After says when to try again`,
          content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
        };
      }
      for (const [status, headers] of Object.entries(HEADERS_OF_STATUS)) {
        const response = operation.responses[status] as ResponseObject | undefined;
        if (response) response.headers = { ...headers, ...response.headers };
      }
      operation.responses['500'] ??= {
        description: 'Unexpected failure (INTERNAL.UNEXPECTED), logged',
        content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } },
      };
    }
  }
  return document;
}

/** Token of the {@link OpenApiOptions} given to `OpenApiModule.forRoot`. */
export const OPENAPI_OPTIONS = Symbol('OPENAPI_OPTIONS');

/** The document `GET /openapi.json` serves: none until {@link publishOpenApiDocument} sets it. */
@Injectable()
export class OpenApiDocument {
  private current?: OpenAPIObject;

  get document(): OpenAPIObject | undefined {
    return this.current;
  }

  publish(document: OpenAPIObject): void {
    this.current = document;
  }
}

/**
 * Builds the app's document ({@link buildOpenApiDocument}, with the options of
 * `OpenApiModule.forRoot`) and hands it to `GET /openapi.json`. Called once the
 * app is initialised (every route registered), before it listens: libs/chassis
 * `bootstrapService` does, and so must a test that builds its app itself.
 */
export function publishOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = buildOpenApiDocument(app, app.get<OpenApiOptions>(OPENAPI_OPTIONS));
  app.get(OpenApiDocument).publish(document);
  return document;
}

/** The app was started without {@link publishOpenApiDocument}: a bug of its start-up, not of the caller. */
class OpenApiNotPublishedError extends DomainError {
  constructor() {
    super({
      code: 'OPENAPI.NOT_PUBLISHED',
      kind: 'unavailable',
      detail: 'This service has no OpenAPI document: it was started without publishing one (publishOpenApiDocument)',
    });
  }
}

@Public()
@Controller()
class OpenApiHttpController {
  constructor(private readonly published: OpenApiDocument) {}

  /**
   * The OpenAPI 3.1 description of this API, as published at start-up. The 503
   * of an app that never published one is not in the document (whoever reads
   * the document got it, so it was published), nor cached: the header is set
   * here, as `@Header` would set it on the error too.
   */
  @Get('openapi.json')
  openapi(@Res({ passthrough: true }) reply: FastifyReply): OpenAPIObject {
    const document = this.published.document;
    if (!document) throw new OpenApiNotPublishedError();
    reply.header('cache-control', 'public, max-age=300');
    return document;
  }
}

/**
 * Serves the app's generated OpenAPI document at `GET /openapi.json`. One line
 * in a service's root module: `OpenApiModule.forRoot({ title, description })`;
 * the document is built from the running app by {@link publishOpenApiDocument}.
 */
@Module({})
export class OpenApiModule {
  static forRoot(options: OpenApiOptions): DynamicModule {
    return {
      module: OpenApiModule,
      controllers: [OpenApiHttpController],
      providers: [{ provide: OPENAPI_OPTIONS, useValue: options }, OpenApiDocument],
      exports: [OPENAPI_OPTIONS, OpenApiDocument],
    };
  }
}
