import { zodDto } from '@conveyor/http';
import { z } from 'zod';

export const pointsView = z.object({
  userId: z.string(),
  /** The points of lots not past their expiry, held ones included: a lot is out of it from the instant it expires, before the expiry job writes it off. */
  balance: z.number().int(),
  /** What can be redeemed or transferred now: the balance less what is held. */
  available: z.number().int(),
  /** Points earned on orders that can still be cancelled: shown, not spendable until `nextAvailableAt` (the first of them). */
  held: z.object({ points: z.number().int(), nextAvailableAt: z.iso.datetime().nullable() }),
  /** Taken back after it was spent (a cancelled order's points); paid off by the next earnings first. */
  debt: z.number().int(),
  expiringSoon: z.object({
    points: z.number().int(),
    /** The end of the window (now + POINTS_EXPIRING_SOON_S). */
    before: z.iso.datetime(),
    nextExpiry: z.iso.datetime().nullable(),
  }),
  version: z.number().int(),
});
export type PointsView = z.output<typeof pointsView>;
export class PointsResponse extends zodDto(pointsView) {}
