import { PROBLEM_CONTENT_TYPE, problemType } from '@conveyor/http';
import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { dribble } from './domain/slow-body';
import type { FaultSpec } from './fault.model';
import { FaultsRepository } from './faults.repository';

const faultOf = new WeakMap<FastifyRequest, FaultSpec>();

/**
 * Applies the faults of FaultsRepository to the public routes, as Fastify hooks:
 * onRequest (counted, in flight, latency, hard down, error status: before the handler, so
 * nothing is applied), preHandler (late completion: the handler runs later, caller
 * gone or not) and onSend (stall, slow body: after the handler, so the
 * request *was* applied). Admin, health and metrics routes are never faulted.
 *
 * Hooks are added in the constructor: Fastify applies a hook only to routes
 * registered after it, and Nest registers routes after creating providers.
 */
@Injectable()
export class FaultHooks {
  constructor(adapterHost: HttpAdapterHost, faults: FaultsRepository) {
    const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();

    fastify.addHook('onRequest', async (request, reply) => {
      const pattern = request.routeOptions.url;
      if (!pattern?.startsWith('/v1/')) return;
      const route = `${request.method} ${pattern}`;
      // In flight from arrival (injected latency included) until the answer is out or the connection is gone.
      faults.enter(route);
      reply.raw.once('close', () => faults.leave(route));
      const fault = faults.arrive(route);
      if (!fault) return;
      const { spec, key } = fault;
      if (spec.latencyMs || spec.jitterMs) await sleep(spec.latencyMs + Math.round(Math.random() * spec.jitterMs));
      if (spec.hardDown) {
        reply.hijack();
        if (spec.hardDown === 'reset') request.raw.socket.resetAndDestroy();
        else request.raw.socket.destroy();
        return reply;
      }
      const header = request.headers['idempotency-key'];
      const repeat = spec.repeatStatus !== undefined && faults.repeated(route, typeof header === 'string' ? header : undefined);
      if (repeat || faults.shouldFail(key, spec)) {
        const status = repeat ? (spec.repeatStatus as number) : spec.errorStatus;
        return reply
          .code(status)
          .type(PROBLEM_CONTENT_TYPE)
          .send({
            type: problemType('SIMULATED.FAULT'),
            title: STATUS_CODES[status] ?? 'Error',
            status,
            code: 'SIMULATED.FAULT',
            detail: `fault injected on ${route}`,
            instance: request.url,
          });
      }
      faultOf.set(request, spec);
      return undefined;
    });

    // After the body is read, before the handler: the handler runs even if the caller has gone.
    fastify.addHook('preHandler', async (request) => {
      const spec = faultOf.get(request);
      if (spec?.applyAfterMs) await sleep(spec.applyAfterMs);
    });

    fastify.addHook('onSend', async (request, reply, payload) => {
      const spec = faultOf.get(request);
      if (!spec) return payload;
      if (spec.commitThenStallMs) await sleep(spec.commitThenStallMs);
      if (spec.slowBody) {
        // A streamed answer (the settlement CSV) is gathered first, so it too comes in `chunks` pieces.
        const body = payload instanceof Readable ? Buffer.concat((await payload.toArray()).map((c: string | Buffer) => Buffer.from(c))) : payload;
        if (typeof body !== 'string' && !Buffer.isBuffer(body)) return payload;
        reply.removeHeader('content-length');
        return dribble(body, spec.slowBody.chunks, spec.slowBody.chunkDelayMs);
      }
      return payload;
    });
  }
}
