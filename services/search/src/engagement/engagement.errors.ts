import { DomainError } from '@conveyor/http';

/** Redis, where views are counted, did not answer: the view was not counted. */
export class ViewsUnavailable extends DomainError {
  constructor(cause: unknown) {
    super({ code: 'SEARCH.VIEWS_UNAVAILABLE', kind: 'unavailable', detail: 'The view could not be counted right now; try again.', cause });
  }
}
