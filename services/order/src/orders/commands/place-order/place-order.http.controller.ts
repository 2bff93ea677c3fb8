import { IdempotencyKeyRequired, idempotencyKeyHeader, ZodValidationPipe } from '@conveyor/http';
import { Body, Controller, Headers, Post, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { orderUrl, type OrderView } from '../../order.model';
import { PlaceOrderService } from './place-order.service';
import { placeOrderRequest, type PlaceOrderRequest } from './place-order.request.dto';

@Controller('orders')
export class PlaceOrderHttpController {
  constructor(private readonly placeOrder: PlaceOrderService) {}

  /**
   * Places and pays an order. 201 with the order (PAID or FAILED); 202 with a
   * status URL (Location) when the payment's outcome is not known yet; 503 when
   * payments are unavailable (nothing charged). A repeat with the same
   * Idempotency-Key and body answers the first answer again.
   */
  @Post()
  async place(
    @Headers('idempotency-key') key: string | undefined,
    @Body(new ZodValidationPipe(placeOrderRequest)) body: PlaceOrderRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderView> {
    const parsedKey = idempotencyKeyHeader.safeParse(key);
    if (!parsedKey.success) throw new IdempotencyKeyRequired('ORDER', 'Placing an order');
    const placed = await this.placeOrder.place(parsedKey.data, body);
    reply.status(placed.status).header('location', orderUrl(placed.body.id)).header('cache-control', 'no-store');
    if (placed.replayed) reply.header('idempotent-replayed', 'true');
    return placed.body;
  }
}
