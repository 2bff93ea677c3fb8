import { z } from 'zod';

/** Routes faults can be set on, as `METHOD pattern`; `*` means every one of them. */
export const FAULTABLE_ROUTES = [
  'POST /v1/payments',
  'GET /v1/payments/orders/:orderId',
  'POST /v1/payments/:paymentKey/cancel',
  'GET /v1/settlements/:date',
  'POST /v1/sms',
  'POST /v1/push',
] as const;
export type FaultableRoute = (typeof FAULTABLE_ROUTES)[number];

const ms = z
  .number()
  .int()
  .min(0)
  .max(10 * 60_000);

/** What goes wrong on one route. Every field is optional; several combine (latency, then the rest). */
export const faultSpec = z
  .object({
    /** Added before the request is handled: latencyMs + uniform [0, jitterMs]. */
    latencyMs: ms.default(0),
    jitterMs: ms.default(0),
    /** Share of requests answered `errorStatus` without being handled (nothing is applied). */
    errorRate: z.number().min(0).max(1).default(0),
    /** The next N requests fail with `errorStatus`, whatever errorRate says; deterministic for tests. */
    failNext: z.number().int().min(0).max(1_000_000).default(0),
    errorStatus: z.number().int().min(400).max(599).default(503),
    /** Hard down: `reset` answers with a TCP RST, `close` with a FIN; nothing is applied, no HTTP answer. */
    hardDown: z.enum(['reset', 'close']).optional(),
    /**
     * "Completed late": the request is read, then handled (applied) only this long
     * after, whether or not the caller still waits for it: a caller that timed out
     * and gave up finds the charge done later.
     */
    applyAfterMs: ms.default(0),
    /**
     * "A refusal that answers the retry only": a request whose Idempotency-Key
     * already reached this route is answered this status (e.g. 409 "still in
     * progress", 429) without being handled; its first request is handled as usual.
     */
    repeatStatus: z.number().int().min(400).max(599).optional(),
    /** "Timed out but committed": the request is applied, then the answer waits this long. */
    commitThenStallMs: ms.default(0),
    /** The request is applied and the head sent at once; the body follows in `chunks` pieces, `chunkDelayMs` apart. */
    slowBody: z
      .object({ chunks: z.number().int().min(1).max(1_000).default(4), chunkDelayMs: ms })
      .strict()
      .optional(),
  })
  .strict();
export type FaultSpec = z.output<typeof faultSpec>;

/** Body of `PUT /_admin/faults`: the whole set of faults, by route; it replaces the previous set. */
export const putFaultsRequest = z.partialRecord(z.enum(['*', ...FAULTABLE_ROUTES]), faultSpec);
export type PutFaultsRequest = z.output<typeof putFaultsRequest>;
