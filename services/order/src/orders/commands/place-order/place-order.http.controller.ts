import { CurrentUser, RateLimit, type AuthUser } from '@conveyor/auth';
import { ApiProblems, IdempotencyKeyRequired, idempotencyKeyHeader } from '@conveyor/http';
import { setRequestAttributes } from '@conveyor/telemetry';
import { Body, Controller, Headers, Post, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiCreatedResponse, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { OrderResponse, orderUrl, type OrderView } from '../../order.model';
import { ORDER_PLACEMENT_LIMIT } from '../../rate-limits.policy';
import { PlaceOrderService, type PlacementOutcome } from './place-order.service';
import { PlaceOrderBody } from './place-order.request.dto';

/** The status of each outcome: 201 once the payment is decided, 202 (with the status URL) while it is not known. */
const STATUS_OF: Record<PlacementOutcome['kind'], 201 | 202> = { decided: 201, accepted: 202 };

/** Where the order can be read again (`GET /orders/{id}`), on a 201 and a 202 alike. */
const ORDER_LOCATION = { Location: { description: 'The order: `/orders/{id}`', required: true, schema: { type: 'string', pattern: '^/orders/[0-9a-f-]+$' } } };

@ApiTags('orders')
@Controller('orders')
export class PlaceOrderHttpController {
  constructor(private readonly placeOrder: PlaceOrderService) {}

  /**
   * Places and pays an order. 201 with the order (PAID or FAILED); 202 with a
   * status URL (Location) when the payment's outcome is not known yet; 503 when
   * payments are unavailable (nothing charged). A repeat with the same
   * Idempotency-Key and body answers the first answer again. The order is the
   * token user's; keys are per user. Limited per user and per address
   * (ORDER_PLACEMENT_RATE_*).
   */
  @Post()
  @RateLimit(ORDER_PLACEMENT_LIMIT)
  @ApiHeader({ name: 'Idempotency-Key', required: true, schema: { type: 'string', minLength: 1, maxLength: 255 } })
  @ApiCreatedResponse({ type: OrderResponse, description: 'PAID or FAILED', headers: ORDER_LOCATION })
  @ApiAcceptedResponse({
    type: OrderResponse,
    description: 'Outcome not known yet (UNKNOWN); the reconciler settles it; Location is the status URL',
    headers: ORDER_LOCATION,
  })
  @ApiProblems({
    invalid: 'Invalid body or missing Idempotency-Key',
    conflict: 'The first request with this Idempotency-Key is still in progress',
    rejected: 'Idempotency-Key reused with another body; unknown or inactive product; mixed currencies or sellers',
    unavailable: 'Payments unavailable; nothing charged, no order kept',
  })
  async place(
    @CurrentUser() user: AuthUser,
    @Headers('idempotency-key') key: string | undefined,
    @Body() body: PlaceOrderBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<OrderView> {
    const parsedKey = idempotencyKeyHeader.safeParse(key);
    if (!parsedKey.success) throw new IdempotencyKeyRequired('ORDER', 'Placing an order');
    setRequestAttributes({ 'user.id': user.id });
    const placed = await this.placeOrder.place(parsedKey.data, { ...body, userId: user.id });
    setRequestAttributes({ 'order.id': placed.order.id, 'order.outcome': placed.order.status, 'order.replayed': placed.replayed });
    reply.status(STATUS_OF[placed.kind]).header('location', orderUrl(placed.order.id)).header('cache-control', 'no-store');
    if (placed.replayed) reply.header('idempotent-replayed', 'true');
    return placed.order;
  }
}
