import type { OrderPaid } from '@conveyor/contracts';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { SalesRepository } from '../../sales.repository';

/**
 * Sales counts: a sale is a paid order. OrderPaid carries the lines sold,
 * which are kept and counted; OrderCancelled (refunded) uncounts them. An
 * order that is never paid counts nothing (docs/search-service.md, "Sales").
 */
@Injectable()
export class CountSalesService {
  constructor(private readonly sales: SalesRepository) {}

  async orderPaid(manager: EntityManager, order: Pick<OrderPaid['payload'], 'orderId' | 'items'>): Promise<void> {
    await this.sales.recordOrderLines(manager, order.orderId, order.items);
    await this.sales.countSales(manager, order.orderId, 1);
  }

  orderCancelled(manager: EntityManager, orderId: string): Promise<void> {
    return this.sales.countSales(manager, orderId, -1);
  }
}
