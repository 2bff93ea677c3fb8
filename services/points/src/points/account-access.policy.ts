import type { AuthUser } from '@conveyor/auth';
import { AccountNotFound } from './points.errors';

/**
 * Reads: the account's owner, or an admin (support). Anyone else gets the
 * 404 of an account that does not exist.
 */
export function assertMayRead(user: AuthUser, userId: string): void {
  if (user.id !== userId && !user.roles.includes('admin')) throw new AccountNotFound(userId);
}

/** Spending: the owner only; an admin does not spend a user's points for them. */
export function assertIsOwner(user: AuthUser, userId: string): void {
  if (user.id !== userId) throw new AccountNotFound(userId);
}
