import { CurrentUser, Roles, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { setRequestAttributes } from '@conveyor/telemetry';
import { Controller, Header, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { OrderNotFound } from '../../order.errors';
import { OrderResponse, type OrderView } from '../../order.model';
import { RetryReconciliationService } from './retry-reconciliation.service';

const uuid = z.uuid();

@ApiTags('operations')
@Controller('orders')
export class RetryReconciliationHttpController {
  constructor(private readonly retryReconciliation: RetryReconciliationService) {}

  /**
   * Admins: puts an order of the operations queue (REQUIRES_ATTENTION) back
   * to the status it had, due at once, with its attempts forgotten: the
   * reconciler takes it on its next run. Only once its cause is fixed, or it
   * comes back after ORDER_RECONCILE_MAX_ATTEMPTS more failures.
   */
  @Post(':id/retry-reconciliation')
  @Roles('admin')
  @HttpCode(200)
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: OrderResponse, description: 'Back to the reconciler, in the status it had' })
  @ApiProblems({ not_found: 'No such order', conflict: 'The order is not REQUIRES_ATTENTION' })
  async retry(@CurrentUser() admin: AuthUser, @Param('id') id: string): Promise<OrderView> {
    if (!uuid.safeParse(id).success) throw new OrderNotFound(id);
    setRequestAttributes({ 'order.id': id });
    return this.retryReconciliation.retry(id, admin.id);
  }
}
