import { Roles } from '@conveyor/auth';
import { ApiProblems, CREATED_AT_EXACT, decodeKeysetCursor, encodeKeysetCursor, zodDto } from '@conveyor/http';
import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { ORDER_STATUSES, OrderResponse, type OrderRow, type OrderStatus, type OrderView } from '../../order.model';
import { OrdersRepository } from '../../orders.repository';
import { listOrdersQuery } from '../list-orders/list-orders.http.controller';

class ListOrdersRequiringAttentionParams extends zodDto(listOrdersQuery) {}

const attention = z.object({
  /** The status the order had when the reconciler gave up on it (what a retry puts back). */
  fromStatus: z.enum(ORDER_STATUSES),
  /** Failed reconciliation attempts. */
  attempts: z.number().int(),
  /** The last failure: the stable error code and the partner's status. */
  lastError: z.string().nullable(),
  since: z.iso.datetime({ offset: true }),
});
class AttentionPageResponse extends zodDto(z.object({ orders: z.array(OrderResponse.schema.extend({ attention })), nextCursor: z.string().nullable() })) {}

export type OrderRequiringAttention = OrderView & { attention: { fromStatus: OrderStatus; attempts: number; lastError: string | null; since: string } };

@ApiTags('operations')
@Controller('orders')
export class ListOrdersRequiringAttentionHttpController {
  constructor(private readonly orders: OrdersRepository) {}

  /**
   * The operations queue: orders the reconciler gave up on after
   * ORDER_RECONCILE_MAX_ATTEMPTS failures, with why. Admins only; newest
   * first, by keyset pages on (created_at, id) as every list. What an
   * operator does with one: docs/order-service.md, "Operations queue".
   */
  @Get('requiring-attention')
  @Roles('admin')
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: AttentionPageResponse, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query or cursor' })
  async list(@Query() query: ListOrdersRequiringAttentionParams): Promise<{ orders: OrderRequiringAttention[]; nextCursor: string | null }> {
    const after = decodeKeysetCursor(query.cursor);
    const manager = this.orders.dataSource.manager;
    // Served by orders_requiring_attention_idx.
    const rows: (OrderRow & { created_at_exact: string })[] = await manager.query(
      `SELECT *, ${CREATED_AT_EXACT} FROM orders
       WHERE status = 'REQUIRES_ATTENTION' AND ($1::timestamptz IS NULL OR (created_at, id) < ($1::timestamptz, $2::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $3`,
      [after?.createdAt ?? null, after?.id ?? null, query.limit + 1],
    );
    const page = rows.slice(0, query.limit);
    const views = await this.orders.views(manager, page);
    const last = page.at(-1);
    return {
      orders: page.map((row, i) => ({
        ...views[i],
        attention: {
          fromStatus: row.attention_from_status ?? row.status,
          attempts: row.reconcile_attempts,
          lastError: row.reconcile_last_error,
          since: (row.attention_since ?? row.updated_at).toISOString(),
        },
      })),
      nextCursor: rows.length > query.limit && last ? encodeKeysetCursor({ createdAt: last.created_at_exact, id: last.id }) : null,
    };
  }
}
