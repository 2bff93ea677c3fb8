import { Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { APP_FILTER, APP_PIPE, HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { MalformedBodyError } from './domain-error';
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
 * Registers {@link ProblemDetailsFilter} as the app's one global exception filter,
 * typed JSON parse errors, and the app-wide {@link ZodValidationPipe} that
 * validates every parameter typed with a zod DTO: every bad request is a 400
 * problem with a stable code. Import it once, in the root module.
 */
@Module({
  providers: [{ provide: APP_FILTER, useClass: ProblemDetailsFilter }, { provide: APP_PIPE, useValue: new ZodValidationPipe() }, JsonBodyErrors],
})
export class ProblemDetailsModule {}
