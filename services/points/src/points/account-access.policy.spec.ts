import type { AuthUser } from '@conveyor/auth';
import { assertIsOwner, assertMayRead } from './account-access.policy';

const user = (id: string, roles: string[] = ['user']): AuthUser => ({ id, kind: 'user', roles, scopes: [] }) as AuthUser;

describe('who may read or spend an account', () => {
  it('When the owner or an admin reads an account, then it is allowed; anyone else gets POINTS.ACCOUNT_NOT_FOUND', () => {
    expect(() => assertMayRead(user('u-1'), 'u-1')).not.toThrow();
    expect(() => assertMayRead(user('support', ['user', 'admin']), 'u-1')).not.toThrow();
    expect(() => assertMayRead(user('u-2'), 'u-1')).toThrow(expect.objectContaining({ code: 'POINTS.ACCOUNT_NOT_FOUND' }));
  });

  it('When anyone but the owner spends, admins included, then POINTS.ACCOUNT_NOT_FOUND', () => {
    expect(() => assertIsOwner(user('u-1'), 'u-1')).not.toThrow();
    expect(() => assertIsOwner(user('support', ['admin']), 'u-1')).toThrow(expect.objectContaining({ code: 'POINTS.ACCOUNT_NOT_FOUND' }));
  });
});
