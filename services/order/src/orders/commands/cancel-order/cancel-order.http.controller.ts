import { Controller, Header, HttpCode, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { OrderNotFound } from '../../order.errors';
import type { OrderView } from '../../order.model';
import { CancelOrderService } from './cancel-order.service';

const uuid = z.uuid();

@Controller('orders')
export class CancelOrderHttpController {
  constructor(private readonly cancelOrder: CancelOrderService) {}

  /** Cancels an order (refunding a PAID one); cancelling a cancelled order answers it again. */
  @Post(':id/cancel')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  cancel(@Param('id') id: string): Promise<OrderView> {
    if (!uuid.safeParse(id).success) throw new OrderNotFound(id);
    return this.cancelOrder.cancel(id);
  }
}
