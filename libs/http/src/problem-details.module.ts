import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_PIPE, HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { MalformedBodyError, MethodNotAllowedError } from './domain-error';
import { ProblemDetailsFilter } from './problem-details.filter';
import { ZodValidationPipe } from './zod-validation.pipe';

/**
 * Replaces the JSON body parser Nest registers with one that runs the same
 * Fastify parser (body limit and prototype-poisoning protection included) but
 * fails as a typed {@link MalformedBodyError}. Nest would otherwise turn
 * Fastify's parse error into a bare HttpException and the stable code would be
 * lost. (Apps created with `rawBody: true` lose `req.rawBody` for JSON; none
 * needs it.)
 *
 * Done in onModuleInit: Nest adds its parser during app.init(), before the
 * module init hooks run and before the server starts.
 */
@Injectable()
export class JsonBodyErrors implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (typeof fastify?.getDefaultJsonParser !== 'function') return; // not a Fastify app
    const { bodyLimit, onProtoPoisoning, onConstructorPoisoning } = fastify.initialConfig;
    const parseJson = fastify.getDefaultJsonParser(onProtoPoisoning ?? 'error', onConstructorPoisoning ?? 'error');
    if (fastify.hasContentTypeParser('application/json')) fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit }, (request, body, done) => {
      parseJson(request, body.toString(), (error, value) => {
        if (error) done(new MalformedBodyError(`The request body is not valid JSON: ${error.message}`, error), undefined);
        else done(null, value);
      });
    });
  }
}

/**
 * Answers 405 `HTTP.METHOD_NOT_ALLOWED` with `Allow` to a request that matched
 * no route while its path has routes for other methods (`DELETE /orders`),
 * instead of 404: Fastify's router says which methods match the path. In an
 * `onRequest` hook, before the body is read, so that an undeclared method is
 * a 405 whatever it carries (Fastify would first refuse a `QUERY` without
 * Content-Type as 400, or a body of a type no parser takes as 415). Requests
 * that matched a route pay one property read.
 */
@Injectable()
export class MethodNotAllowed implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (typeof fastify?.findRoute !== 'function') return; // not a Fastify app
    fastify.addHook('onRequest', async (request) => {
      if (request.routeOptions.url !== undefined) return; // a route matched
      const allow = fastify.supportedMethods.filter((method) => method !== request.method && fastify.findRoute({ method, url: request.url }) !== null);
      if (allow.length > 0) throw new MethodNotAllowedError(request.method, request.url.split('?')[0], allow.sort());
    });
  }
}

/**
 * Registers {@link ProblemDetailsFilter} as the app's one global exception filter,
 * typed JSON parse errors, 405 for an undeclared method on a known path ({@link MethodNotAllowed}), and the app-wide {@link ZodValidationPipe} that
 * validates every parameter typed with a zod DTO: every bad request is a 400
 * problem with a stable code. Import it once, in the root module.
 */
@Module({
  providers: [
    { provide: APP_FILTER, useClass: ProblemDetailsFilter },
    { provide: APP_PIPE, useValue: new ZodValidationPipe() },
    JsonBodyErrors,
    MethodNotAllowed,
  ],
})
export class ProblemDetailsModule {}
