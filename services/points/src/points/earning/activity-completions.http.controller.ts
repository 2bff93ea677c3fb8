import { CurrentUser, RequireScope, type AuthUser } from '@conveyor/auth';
import { ApiProblems, zodDto } from '@conveyor/http';
import { Body, Controller, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { userIdSchema } from '../spending/spending.dto';
import { ActivityCompletionsService, type Completion } from './activity-completions.service';

/** The scope a service identity needs to report completions (docs/points-service.md). */
export const ACTIVITY_SCOPE = 'points:activities';

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
class ActivityIdParams extends zodDto(activityIdParams) {}

export const completionRequest = z
  .object({ userId: userIdSchema.describe('The user who completed the activity (the reporting service vouches for it)') })
  .strict();
class CompletionBody extends zodDto(completionRequest) {}

class CompletionResponse extends zodDto(z.object({ activityId: z.string(), userId: z.string(), points: z.number().int(), completedAt: z.iso.datetime() })) {}

/**
 * Completions come from the service that knows a lesson was completed (its
 * client-credentials token with the `points:activities` scope), naming the
 * user: an end user's own token is refused (403 AUTH.INSUFFICIENT_SCOPE), or
 * anyone could mint points for activities they made up.
 */
@ApiTags('points')
@Controller('activities')
export class ActivityCompletionsHttpController {
  constructor(private readonly completions: ActivityCompletionsService) {}

  /**
   * `userId` completed the activity: 201 and POINTS_ACTIVITY_AWARD points the
   * first time; 200 with the same completion (no points) on any repeat,
   * concurrent ones included; 429 past the user's daily cap (nothing recorded).
   */
  @Post(':activityId/completions')
  @RequireScope(ACTIVITY_SCOPE)
  @ApiCreatedResponse({ type: CompletionResponse, description: 'Recorded now; points awarded' })
  @ApiOkResponse({ type: CompletionResponse, description: 'Already recorded; nothing awarded' })
  @ApiProblems({
    invalid: 'Invalid activity id or body',
    rate_limited:
      'The user had POINTS_ACTIVITY_DAILY_CAP activity awards this UTC day (POINTS.ACTIVITY_DAILY_CAP_REACHED); nothing recorded; Retry-After: the next day',
  })
  async complete(
    @CurrentUser() reporter: AuthUser,
    @Param() params: ActivityIdParams,
    @Body() body: CompletionBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Completion> {
    const { completion, created } = await this.completions.complete(body.userId, params.activityId, reporter.id);
    reply.status(created ? 201 : 200).header('cache-control', 'no-store');
    return completion;
  }
}
