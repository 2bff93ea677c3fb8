import { returnedRows } from '@conveyor/persistence';
import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';

/**
 * Likes: one row per (product, user), and the product's counter
 * (`documents.likes_count`). Every method runs in the caller's transaction;
 * the counter's row lock serialises the +1/−1 of one product.
 */
@Injectable()
export class LikesRepository {
  /** Whether the product has a document; with `listedOnly`, an active one. */
  async productExists(manager: EntityManager, productId: string, listedOnly: boolean): Promise<boolean> {
    const rows: unknown[] = await manager.query(`SELECT 1 FROM documents WHERE product_id = $1${listedOnly ? ' AND active' : ''}`, [productId]);
    return rows.length > 0;
  }

  /** Adds the like; answers whether a row was really added (the primary key decides concurrent duplicates). */
  async add(manager: EntityManager, productId: string, userId: string): Promise<boolean> {
    const added = returnedRows(
      await manager.query('INSERT INTO likes (product_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1', [productId, userId]),
    );
    return added.length > 0;
  }

  /** Removes the like; answers whether there was one. */
  async remove(manager: EntityManager, productId: string, userId: string): Promise<boolean> {
    const removed = returnedRows(await manager.query('DELETE FROM likes WHERE product_id = $1 AND user_id = $2 RETURNING 1', [productId, userId]));
    return removed.length > 0;
  }

  /** Moves the product's counter by `by` (nothing when 0) and answers its value. */
  async moveCounter(manager: EntityManager, productId: string, by: number): Promise<number> {
    const [row] = returnedRows<{ likes_count: string }>(
      by === 0
        ? await manager.query('SELECT likes_count FROM documents WHERE product_id = $1', [productId])
        : await manager.query('UPDATE documents SET likes_count = likes_count + $2 WHERE product_id = $1 RETURNING likes_count', [productId, by]),
    );
    return Number(row.likes_count);
  }
}
