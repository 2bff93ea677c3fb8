import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { context, trace, type Attributes } from '@opentelemetry/api';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import type { FastifyInstance } from 'fastify';

/**
 * Names every HTTP server span `METHOD /route` (`POST /orders`,
 * `GET /orders/:id`) and sets `http.route`, as the semantic conventions ask,
 * so Jaeger's operation list has one entry per endpoint instead of one per
 * method. The http instrumentation leaves a mutable RPC metadata object in the
 * request's context and, when the response ends, renames its span after the
 * `route` found there; Fastify knows the route template once it has matched
 * the request, so an onRequest hook fills it in. An unmatched request (404)
 * keeps the bare method: the raw URL would grow the operation list without end.
 *
 * Added in the constructor: Fastify applies a hook only to routes registered
 * after it, and Nest registers routes before onModuleInit.
 */
@Injectable()
export class HttpRouteSpans {
  constructor(adapterHost: HttpAdapterHost) {
    const fastify = adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', (request, _reply, done) => {
      const route = request.routeOptions.url;
      const metadata = getRPCMetadata(context.active());
      if (route && metadata?.type === RPCType.HTTP) metadata.route = route;
      done();
    });
  }
}

/**
 * Sets attributes (ids, an outcome) on the current span and on the HTTP
 * server span of the request it belongs to, so a search in Jaeger by
 * `order.id` finds the request's trace at its root. Ids only: no personal data.
 */
export function setRequestAttributes(attributes: Attributes): void {
  const active = context.active();
  trace.getSpan(active)?.setAttributes(attributes);
  const metadata = getRPCMetadata(active);
  if (metadata?.type === RPCType.HTTP) metadata.span.setAttributes(attributes);
}
