import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { userIdSchema } from '../../account.model';

export const activityIdParams = z
  .object({
    activityId: z
      .string()
      .min(1)
      // Below the router's path parameter limit (Fastify's maxParamLength, 100), past which it answers 414 itself.
      .max(64)
      .regex(/^[A-Za-z0-9._:-]+$/)
      .describe('The activity (a lesson) completed: letters, digits, `.`, `_`, `:`, `-`'),
  })
  .strict();
export class ActivityIdParams extends zodDto(activityIdParams) {}

export const completionRequest = z
  .object({ userId: userIdSchema.describe('The user who completed the activity (the reporting service vouches for it)') })
  .strict();
export class CompletionBody extends zodDto(completionRequest) {}

export const completionView = z.object({ activityId: z.string(), userId: z.string(), points: z.number().int(), completedAt: z.iso.datetime() });
export type Completion = z.output<typeof completionView>;
export class CompletionResponse extends zodDto(completionView) {}
