import { CurrentUser, Roles, type AuthUser } from '@conveyor/auth';
import { ApiProblems, keysetPage, zodDto } from '@conveyor/http';
import { ReadRouter } from '@conveyor/persistence';
import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { EntityManager } from 'typeorm';
import { z } from 'zod';
import { ORDER_STATUSES, OrderResponse, type OrderStatus, type OrderView } from '../../order.model';
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
  constructor(
    private readonly orders: OrdersRepository,
    private readonly reads: ReadRouter,
  ) {}

  /**
   * The operations queue: orders the reconciler gave up on after
   * ORDER_RECONCILE_MAX_ATTEMPTS failures, with why. Admins only; newest
   * first, by keyset pages on (created_at, id) as every list. What an
   * operator does with one: docs/order-service.md, "Operations queue".
   * From the replica when one is configured (the operator's own retries read back from the primary until replayed).
   */
  @Get('requiring-attention')
  @Roles('admin')
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: AttentionPageResponse, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query or cursor' })
  async list(
    @CurrentUser() user: AuthUser,
    @Query() query: ListOrdersRequiringAttentionParams,
  ): Promise<{ orders: OrderRequiringAttention[]; nextCursor: string | null }> {
    return this.reads.read(user.id, (manager) => this.page(manager, query));
  }

  private async page(
    manager: EntityManager,
    query: ListOrdersRequiringAttentionParams,
  ): Promise<{ orders: OrderRequiringAttention[]; nextCursor: string | null }> {
    const page = await keysetPage({
      cursor: query.cursor,
      limit: query.limit,
      fetch: (after, take) => this.orders.pageRequiringAttention(manager, after, take),
      cursorOf: (last) => ({ createdAt: last.created_at_exact, id: last.id }),
    });
    const views = await this.orders.views(manager, page.rows);
    return {
      orders: page.rows.map((row, i) => ({
        ...views[i],
        attention: {
          fromStatus: row.attention_from_status ?? row.status,
          attempts: row.reconcile_attempts,
          lastError: row.reconcile_last_error,
          since: (row.attention_since ?? row.updated_at).toISOString(),
        },
      })),
      nextCursor: page.nextCursor,
    };
  }
}
