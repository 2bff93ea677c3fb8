import { DomainError } from '@conveyor/http';

export class InvalidSearchCursor extends DomainError {
  constructor(reason: string) {
    super({ code: 'SEARCH.INVALID_CURSOR', kind: 'invalid', detail: `The cursor is not valid here: ${reason}. Start again without one.` });
  }
}

/** The query ran past SEARCH_STATEMENT_TIMEOUT_MS and was cancelled. */
export class SearchTimedOut extends DomainError {
  constructor(timeoutMs: number) {
    super({
      code: 'SEARCH.QUERY_TIMEOUT',
      kind: 'unavailable',
      detail: `The search took longer than ${timeoutMs} ms and was stopped; try fewer or more specific words.`,
    });
  }
}
