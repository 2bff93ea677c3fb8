import { inTransaction } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { ProductNotFound } from '../search/search.errors';
import { LikesBusy } from './engagement.errors';

const LOCK_NOT_AVAILABLE = '55P03';

export interface LikeState {
  productId: string;
  liked: boolean;
  likes: number;
}

/**
 * One row per (product, user), and the product's counter moved in the same
 * transaction only when a row was really added or removed: liking twice
 * counts once, and the counter always equals the rows (the row's primary key
 * decides concurrent duplicates; the counter's row lock serialises the +1/−1).
 */
@Injectable()
export class LikesService {
  constructor(private readonly dataSource: DataSource) {}

  like(productId: string, userId: string): Promise<LikeState> {
    return this.onCounter(productId, async (manager) => {
      const [listed]: unknown[] = await manager.query('SELECT 1 FROM documents WHERE product_id = $1 AND active', [productId]);
      if (!listed) throw new ProductNotFound(productId);
      const added: unknown[] = await manager.query('INSERT INTO likes (product_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1', [
        productId,
        userId,
      ]);
      return { productId, liked: true, likes: await this.moveCounter(manager, productId, added.length) };
    });
  }

  /** Unliking works on a product no longer listed too (the like is the user's to take back). */
  unlike(productId: string, userId: string): Promise<LikeState> {
    return this.onCounter(productId, async (manager) => {
      const [known]: unknown[] = await manager.query('SELECT 1 FROM documents WHERE product_id = $1', [productId]);
      if (!known) throw new ProductNotFound(productId);
      // (TypeORM answers DELETE/UPDATE … RETURNING as [rows, affected].)
      const [removed]: [unknown[], number] = await manager.query('DELETE FROM likes WHERE product_id = $1 AND user_id = $2 RETURNING 1', [productId, userId]);
      return { productId, liked: false, likes: await this.moveCounter(manager, productId, -removed.length) };
    });
  }

  /** One transaction; a counter row locked past lock_timeout by a burst on the product answers 503 + Retry-After (nothing changed). */
  private async onCounter(productId: string, work: (manager: EntityManager) => Promise<LikeState>): Promise<LikeState> {
    try {
      return await inTransaction(this.dataSource, work);
    } catch (error) {
      const code = (error as { driverError?: { code?: string } }).driverError?.code;
      if (code === LOCK_NOT_AVAILABLE) throw new LikesBusy(productId, error);
      throw error;
    }
  }

  private async moveCounter(manager: EntityManager, productId: string, by: number): Promise<number> {
    type Row = { likes_count: string };
    const [row]: Row[] =
      by === 0
        ? await manager.query('SELECT likes_count FROM documents WHERE product_id = $1', [productId])
        : (
            (await manager.query('UPDATE documents SET likes_count = likes_count + $2 WHERE product_id = $1 RETURNING likes_count', [productId, by])) as [
              Row[],
              number,
            ]
          )[0];
    return Number(row.likes_count);
  }
}
