import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, keysetPage, zodDto } from '@conveyor/http';
import { ReadRouter } from '@conveyor/persistence';
import { Controller, Get, Header, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { OrderResponse, type OrderView } from '../../order.model';
import { OrdersRepository } from '../../orders.repository';

export const listOrdersQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    /** Opaque cursor from the previous page's `nextCursor`. */
    cursor: z.string().max(200).optional(),
  })
  .strict();
class ListOrdersParams extends zodDto(listOrdersQuery) {}
class OrderPageResponse extends zodDto(z.object({ orders: z.array(OrderResponse.schema), nextCursor: z.string().nullable() })) {}

export interface OrderPage {
  orders: OrderView[];
  nextCursor: string | null;
}

@ApiTags('orders')
@Controller('orders')
export class ListOrdersHttpController {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly reads: ReadRouter,
  ) {}

  /**
   * The token user's own orders (never another's: there is no user parameter), newest first, by keyset pages (created_at, id): a page
   * costs the same however deep, and rows inserted meanwhile do not shift it. Read from the replica when one is configured, except
   * while the user's own last write is not replayed there yet (read-your-writes, docs/patterns/read-replicas.md).
   */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: OrderPageResponse, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query or cursor' })
  async list(@CurrentUser() user: AuthUser, @Query() query: ListOrdersParams): Promise<OrderPage> {
    return this.reads.read(user.id, async (manager) => {
      const page = await keysetPage({
        cursor: query.cursor,
        limit: query.limit,
        fetch: (after, take) => this.orders.pageOfUser(manager, user.id, after, take),
        cursorOf: (last) => ({ createdAt: last.created_at_exact, id: last.id }),
      });
      return { orders: await this.orders.views(manager, page.rows), nextCursor: page.nextCursor };
    });
  }
}
