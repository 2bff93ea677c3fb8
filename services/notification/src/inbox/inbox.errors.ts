import { DomainError } from '@conveyor/http';

/** Not the caller's inbox: answered as an inbox that does not exist, so ids cannot be probed. */
export class InboxNotFound extends DomainError {
  constructor() {
    super({ code: 'NOTIFICATION.INBOX_NOT_FOUND', kind: 'not_found', detail: 'No such inbox.' });
  }
}
