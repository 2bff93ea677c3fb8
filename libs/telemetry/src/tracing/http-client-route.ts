import { context, createContextKey, type Span } from '@opentelemetry/api';

const ROUTE = createContextKey('conveyor.http.client.route');

/**
 * Runs `work` with the route template of the HTTP call it makes
 * (`/v1/payments/:paymentKey/cancel`), so the undici instrumentation names its
 * CLIENT span `POST /v1/payments/:paymentKey/cancel` and sets `url.template`
 * (the semantic conventions' client span name) instead of a bare `POST`.
 * libs/resilience wraps every attempt in it.
 */
export const withHttpClientRoute = <T>(route: string, work: () => T): T => context.with(context.active().setValue(ROUTE, route), work);

/** The undici instrumentation's request hook: names the client span after the route {@link withHttpClientRoute} set, if any. */
export function nameHttpClientSpan(span: Span, method: string): void {
  const route = context.active().getValue(ROUTE);
  if (typeof route !== 'string') return;
  span.updateName(`${method} ${route}`);
  span.setAttribute('url.template', route);
}
