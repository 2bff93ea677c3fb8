import { Injectable } from '@nestjs/common';
import { ViewsUnavailable } from '../../engagement.errors';
import { PendingViewsRepository } from '../../pending-views.repository';

/** A product page view: one Redis HINCRBY, no database write (the flush job moves the counts to PostgreSQL in batches). */
@Injectable()
export class ViewsService {
  constructor(private readonly pending: PendingViewsRepository) {}

  async record(productId: string): Promise<void> {
    try {
      await this.pending.add(productId);
    } catch (error) {
      throw new ViewsUnavailable(error);
    }
  }
}
