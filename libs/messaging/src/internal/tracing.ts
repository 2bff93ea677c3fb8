import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';

export const tracer = trace.getTracer('@conveyor/messaging');

/** Header values as strings, whatever the client gave (Kafka: Buffer | string | array). */
export function headersToStrings(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (value === undefined || value === null) continue;
    const first = Array.isArray(value) ? value[0] : value;
    out[key] = Buffer.isBuffer(first) ? first.toString() : String(first);
  }
  return out;
}

/** The trace context carried by message headers (the outbox row's, or a broker message's). */
export const contextFromHeaders = (headers: Record<string, string>): Context => propagation.extract(ROOT_CONTEXT, headers);

/**
 * Span names as the messaging semantic conventions give them,
 * `{operation} {destination}`: `publish order.events`, `process order.events`.
 */
export const publishSpanName = (destination: string): string => `publish ${destination}`;
export const processSpanName = (destination: string): string => `process ${destination}`;

/**
 * The producer's context carried by a message, as the parent of its consumer
 * span (so one order is one trace in Jaeger) and as a link to it too (what the
 * conventions ask of a consumer, and what a trace backend that splits traces
 * at broker hops follows). No link when the message carries no context.
 */
export function consumerSpanParent(headers: Record<string, string>): { parent: Context; links: Link[] } {
  const parent = contextFromHeaders(headers);
  const producer = trace.getSpanContext(parent);
  return { parent, links: producer && isSpanContextValid(producer) ? [{ context: producer }] : [] };
}

/**
 * Starts a producer span for one message, child of the context stored with
 * it (`attributes` is called only if the span records), and returns the headers to send: the same ones with `traceparent`
 * pointing at this span, so the consumer continues the request's trace.
 */
export function startProducerSpan(
  name: string,
  stored: Record<string, string>,
  attributes: () => Record<string, string>,
): { span: Span; headers: Record<string, string> } {
  const span = tracer.startSpan(name, { kind: SpanKind.PRODUCER }, contextFromHeaders(stored));
  // Built only for a span that records: the relay starts one per message.
  if (span.isRecording()) span.setAttributes(attributes());
  // Copied without the stored trace headers (not spread-then-delete, which
  // leaves a slow dictionary-mode object for the client to encode per message).
  const headers: Record<string, string> = {};
  for (const key in stored) if (key !== 'traceparent' && key !== 'tracestate') headers[key] = stored[key];
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers);
  return { span, headers };
}

export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : new Error(String(error)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/**
 * Runs a broker call with tracing suppressed. The kafkajs and amqplib
 * instrumentations would otherwise start their own send span under whatever
 * context is active (the relay's, not the row's) and overwrite the
 * `traceparent` header we set, cutting the consumer off the request's trace.
 * Our producer span per message takes the place of theirs.
 */
export const withoutInstrumentation = <T>(work: () => Promise<T>): Promise<T> => context.with(suppressTracing(context.active()), work);

/**
 * Sends a batch whose producer spans are in `spans` (they may still be added
 * while `send` runs), with the client instrumentations suppressed (see
 * {@link withoutInstrumentation}), and ends every span with the outcome.
 */
export async function sendTraced(spans: Span[], send: () => Promise<unknown>): Promise<void> {
  try {
    await withoutInstrumentation(send);
  } catch (error) {
    spans.forEach((s) => endSpan(s, error));
    throw error;
  }
  spans.forEach((s) => endSpan(s));
}
