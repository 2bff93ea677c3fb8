import { CurrentUser, RequireScope, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ActivityIdParams, CompletionBody, CompletionResponse, type Completion } from './complete-activity.dto';
import { CompleteActivityService } from './complete-activity.service';

/** The scope a service identity needs to report completions (docs/points-service.md). */
export const ACTIVITY_SCOPE = 'points:activities';

/**
 * Completions come from the service that knows a lesson was completed (its
 * client-credentials token with the `points:activities` scope), naming the
 * user: an end user's own token is refused (403 AUTH.INSUFFICIENT_SCOPE), or
 * anyone could mint points for activities they made up.
 */
@ApiTags('points')
@Controller('activities')
export class CompleteActivityHttpController {
  constructor(private readonly completeActivity: CompleteActivityService) {}

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
    const { completion, created } = await this.completeActivity.complete(body.userId, params.activityId, reporter.id);
    reply.status(created ? 201 : 200).header('cache-control', 'no-store');
    return completion;
  }
}
