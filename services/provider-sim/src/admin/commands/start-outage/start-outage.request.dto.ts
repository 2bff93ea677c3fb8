import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** Body of `POST /_admin/outage`: stop listening (connections refused) for this long. */
export const outageRequest = z
  .object({
    durationMs: z
      .number()
      .int()
      .min(1)
      .max(10 * 60_000),
  })
  .strict();
export type OutageRequest = z.output<typeof outageRequest>;
export class OutageBody extends zodDto(outageRequest) {}
