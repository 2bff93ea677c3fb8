import type { AuthUser } from '@conveyor/auth';
import { mayAccessOrder } from './order-access.policy';

const user = (id: string, roles: AuthUser['roles'] = []): AuthUser => ({ id, kind: 'user', roles, scopes: [] });

describe('order access policy', () => {
  it("When a user asks for an order, then only its owner or an admin may; anyone else's answer is the same as for no order", () => {
    const order = { user_id: 'u-1' };
    expect(mayAccessOrder(user('u-1'), order)).toBe(true);
    expect(mayAccessOrder(user('u-2', ['admin']), order)).toBe(true);
    expect(mayAccessOrder(user('u-2'), order)).toBe(false);
  });
});
