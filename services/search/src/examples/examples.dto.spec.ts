import { createExampleRequest } from './examples.dto';
import { ExampleNotFound } from './examples.errors';

describe('search examples', () => {
  it('When a name is given, then it is accepted trimmed', () => {
    expect(createExampleRequest.parse({ name: '  first  ' })).toEqual({ name: 'first' });
  });

  it('When the name is empty, missing or joined by an unknown field, then the request is refused', () => {
    expect(createExampleRequest.safeParse({ name: '   ' }).success).toBe(false);
    expect(createExampleRequest.safeParse({}).success).toBe(false);
    expect(createExampleRequest.safeParse({ name: 'x', extra: 1 }).success).toBe(false);
  });

  it('When an example is missing, then the error says so with its stable code and the id', () => {
    const error = new ExampleNotFound('e-1');
    expect(error).toMatchObject({ code: 'SEARCH.EXAMPLE_NOT_FOUND', kind: 'not_found', extensions: { exampleId: 'e-1' } });
  });
});
