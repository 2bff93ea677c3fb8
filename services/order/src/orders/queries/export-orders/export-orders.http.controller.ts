import { CurrentUser, Roles, type AuthUser } from '@conveyor/auth';
import { ApiProblems, zodDto } from '@conveyor/http';
import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ExportOrdersService } from './export-orders.service';

// Longer ranges are a batch job's business, not an HTTP request's.
const MAX_RANGE_MS = 366 * 24 * 60 * 60 * 1000;

export const exportOrdersQuery = z
  .object({
    /** Inclusive lower bound on created_at: a date (UTC midnight) or a date-time with offset. */
    from: z.union([z.iso.date(), z.iso.datetime({ offset: true })]).transform((v) => new Date(v)),
    /** Exclusive upper bound. */
    to: z.union([z.iso.date(), z.iso.datetime({ offset: true })]).transform((v) => new Date(v)),
  })
  .strict()
  .refine((q) => q.to > q.from, { message: 'to must be after from', path: ['to'] })
  .refine((q) => q.to.getTime() - q.from.getTime() <= MAX_RANGE_MS, { message: 'at most 366 days at once', path: ['to'] });
class ExportOrdersParams extends zodDto(exportOrdersQuery) {}

@ApiTags('orders')
@Controller('orders')
export class ExportOrdersHttpController {
  constructor(private readonly exportOrders: ExportOrdersService) {}

  /**
   * Orders created in [from, to) as CSV, streamed from a database cursor: the
   * cursor is read only as fast as the client takes the answer (back-pressure),
   * so memory stays flat however many rows there are. Compressed (br, gzip)
   * by Accept-Encoding through @fastify/compress. User data with payment
   * keys: admins only, never cached. From the read replica when one is
   * configured (docs/patterns/read-replicas.md).
   */
  @Get('export.csv')
  @Roles('admin')
  @ApiOkResponse({ description: 'CSV, streamed', content: { 'text/csv': { schema: { type: 'string' } } } })
  @ApiProblems({ invalid: 'Invalid range' })
  async export(@CurrentUser() user: AuthUser, @Query() query: ExportOrdersParams, @Res() reply: FastifyReply): Promise<void> {
    const csv = await this.exportOrders.csv(query.from, query.to, user.id);
    const stamp = (d: Date) => d.toISOString().slice(0, 10);
    reply
      .type('text/csv; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="orders-${stamp(query.from)}-${stamp(query.to)}.csv"`)
      .send(csv);
  }
}
