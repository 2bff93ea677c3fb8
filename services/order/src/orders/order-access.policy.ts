import type { AuthUser } from '@conveyor/auth';

/**
 * Whether `user` may see or act on the order: its owner, or an admin
 * (operator support: look an order up, cancel and refund it). Anyone else
 * gets the same 404 as for an order that does not exist, so no one learns
 * which order ids exist.
 */
export const mayAccessOrder = (user: AuthUser, order: { user_id: string }): boolean => order.user_id === user.id || user.roles.includes('admin');
