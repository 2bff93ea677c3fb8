import { DomainError } from '@conveyor/http';

export class ExampleNotFound extends DomainError {
  constructor(exampleId: string) {
    super({ code: 'SEARCH.EXAMPLE_NOT_FOUND', kind: 'not_found', detail: `No example ${exampleId}.`, extensions: { exampleId } });
  }
}
