import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { setRequestAttributes } from '@conveyor/telemetry';
import { Controller, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { OrderNotFound } from '../../order.errors';
import { OrderResponse, type OrderView } from '../../order.model';
import { CancelOrderService } from './cancel-order.service';

const uuid = z.uuid();

@ApiTags('orders')
@Controller('orders')
export class CancelOrderHttpController {
  constructor(private readonly cancelOrder: CancelOrderService) {}

  /**
   * Cancels an order (refunding a PAID one); cancelling a cancelled order answers it again.
   * The owner's or, for support, an admin's; anyone else's is 404.
   */
  @Post(':id/cancel')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: OrderResponse, description: 'Cancelled (a PAID one refunded)' })
  @ApiProblems({
    not_found: "No such order (or not the caller's)",
    conflict: 'Not cancellable in its state (ORDER.NOT_CANCELLABLE), or paid longer ago than ORDER_CANCEL_WINDOW_S (ORDER.CANCEL_WINDOW_CLOSED)',
    upstream_failed: 'The refund failed at the payment partner; the order stays PAID, retry',
    unavailable: 'Payments unavailable (breaker open, bulkhead full); nothing refunded, retry',
    upstream_timeout: 'The refund got no answer in time; the order stays PAID, retry (the refund is idempotent)',
  })
  async cancel(@CurrentUser() user: AuthUser, @Param('id') id: string): Promise<OrderView> {
    if (!uuid.safeParse(id).success) throw new OrderNotFound(id);
    setRequestAttributes({ 'order.id': id, 'user.id': user.id });
    const cancelled = await this.cancelOrder.cancel(user, id);
    setRequestAttributes({ 'order.outcome': cancelled.status });
    return cancelled;
  }
}
