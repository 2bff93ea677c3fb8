import { inTransaction, sqlState, SqlStates } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { LikesBusy, ProductNotFound } from '../../engagement.errors';
import { LikesRepository } from '../../likes.repository';
import type { LikeState } from './likes.dto';

/**
 * The caller's like of a product, idempotent both ways: the row and the
 * product's counter move in one transaction, the counter only when a row was
 * really added or removed, so liking twice counts once and the counter always
 * equals the rows.
 */
@Injectable()
export class LikesService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly likes: LikesRepository,
  ) {}

  like(productId: string, userId: string): Promise<LikeState> {
    return this.onCounter(productId, async (manager) => {
      if (!(await this.likes.productExists(manager, productId, true))) throw new ProductNotFound(productId);
      const added = await this.likes.add(manager, productId, userId);
      return { productId, liked: true, likes: await this.likes.moveCounter(manager, productId, added ? 1 : 0) };
    });
  }

  /** Unliking works on a product no longer listed too (the like is the user's to take back). */
  unlike(productId: string, userId: string): Promise<LikeState> {
    return this.onCounter(productId, async (manager) => {
      if (!(await this.likes.productExists(manager, productId, false))) throw new ProductNotFound(productId);
      const removed = await this.likes.remove(manager, productId, userId);
      return { productId, liked: false, likes: await this.likes.moveCounter(manager, productId, removed ? -1 : 0) };
    });
  }

  /** One transaction; a counter row locked past lock_timeout by a burst on the product is SEARCH.LIKES_BUSY (nothing changed, retry). */
  private async onCounter(productId: string, work: (manager: EntityManager) => Promise<LikeState>): Promise<LikeState> {
    try {
      return await inTransaction(this.dataSource, work);
    } catch (error) {
      if (sqlState(error) === SqlStates.lockNotAvailable) throw new LikesBusy(productId, error);
      throw error;
    }
  }
}
