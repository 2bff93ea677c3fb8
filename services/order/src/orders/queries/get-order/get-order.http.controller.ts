import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { OrderNotFound } from '../../order.errors';
import { OrderResponse, toOrderView, type OrderView } from '../../order.model';
import { mayAccessOrder } from '../../order-access.policy';
import { OrdersRepository } from '../../orders.repository';

const uuid = z.uuid();

@ApiTags('orders')
@Controller('orders')
export class GetOrderHttpController {
  constructor(private readonly orders: OrdersRepository) {}

  /** The order's current state: the status URL a 202 points to; an archived order too. The owner's or an admin's; anyone else's is 404. */
  @Get(':id')
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: OrderResponse, description: 'The order' })
  @ApiProblems({ not_found: "No such order (or not the caller's)" })
  async get(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<OrderView> {
    // Not a uuid cannot be an order: the same 404, without a query that would fail on the cast.
    if (!uuid.safeParse(id).success) throw new OrderNotFound(id);
    const manager = this.orders.manager;
    const order = await this.orders.find(manager, id);
    if (order) {
      if (!mayAccessOrder(user, order)) throw new OrderNotFound(id);
      return this.orders.view(manager, order);
    }
    // Not in the hot table: an archived order (settled for good), the slower path, under the same owner check.
    const archived = await this.orders.findArchived(manager, id);
    if (!archived || !mayAccessOrder(user, archived)) throw new OrderNotFound(id);
    return toOrderView(archived, archived.items);
  }
}
