import { assertMayReadInbox } from './inbox-access.policy';
import { InboxNotFound } from './inbox.errors';

describe('inbox access policy', () => {
  it('When a user reads their own inbox, then it is allowed', () => {
    expect(() => assertMayReadInbox({ id: 'u-1', roles: ['user'] }, 'u-1')).not.toThrow();
  });

  it('When an admin reads any inbox, then it is allowed', () => {
    expect(() => assertMayReadInbox({ id: 'admin-1', roles: ['user', 'admin'] }, 'u-1')).not.toThrow();
  });

  it('When a user reads another user’s inbox, then it is the 404 NOTIFICATION.INBOX_NOT_FOUND of an inbox that does not exist', () => {
    let thrown: unknown;
    try {
      assertMayReadInbox({ id: 'u-2', roles: ['user'] }, 'u-1');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InboxNotFound);
    expect(thrown).toMatchObject({ code: 'NOTIFICATION.INBOX_NOT_FOUND', kind: 'not_found' });
  });
});
