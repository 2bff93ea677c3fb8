import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** `POST /examples`: replace with your own feature's request (one zod schema per request; the app's pipe validates it). */
export const createExampleRequest = z
  .object({
    name: z.string().trim().min(1).max(200),
  })
  .strict();
export type CreateExampleRequest = z.output<typeof createExampleRequest>;
export class CreateExampleBody extends zodDto(createExampleRequest) {}

/** What the API answers for one example; also its schema in `/openapi.json`. */
export const exampleView = z.object({
  id: z.uuid(),
  name: z.string(),
  createdAt: z.iso.datetime(),
});
export type ExampleView = z.output<typeof exampleView>;
export class ExampleResponse extends zodDto(exampleView) {}
