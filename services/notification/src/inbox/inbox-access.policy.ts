import type { AuthUser } from '@conveyor/auth';
import { InboxNotFound } from './inbox.errors';

/** A user's inbox is theirs (or an admin's to read); anyone else gets the 404 of an inbox that does not exist. */
export function assertMayReadInbox(user: Pick<AuthUser, 'id' | 'roles'>, inboxUserId: string): void {
  if (inboxUserId !== user.id && !user.roles.includes('admin')) throw new InboxNotFound();
}
