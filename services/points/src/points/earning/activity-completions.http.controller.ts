import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, zodDto } from '@conveyor/http';
import { Controller, Param, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ActivityCompletionsService, type Completion } from './activity-completions.service';

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

class CompletionResponse extends zodDto(z.object({ activityId: z.string(), userId: z.string(), points: z.number().int(), completedAt: z.iso.datetime() })) {}

@ApiTags('points')
@Controller('activities')
export class ActivityCompletionsHttpController {
  constructor(private readonly completions: ActivityCompletionsService) {}

  /**
   * The token user completed the activity: 201 and POINTS_ACTIVITY_AWARD
   * points the first time; 200 with the same completion (no points) on any
   * repeat, concurrent ones included.
   */
  @Post(':activityId/completions')
  @ApiCreatedResponse({ type: CompletionResponse, description: 'Recorded now; points awarded' })
  @ApiOkResponse({ type: CompletionResponse, description: 'Already recorded; nothing awarded' })
  @ApiProblems({ invalid: 'Invalid activity id' })
  async complete(@CurrentUser() user: AuthUser, @Param() params: ActivityIdParams, @Res({ passthrough: true }) reply: FastifyReply): Promise<Completion> {
    const { completion, created } = await this.completions.complete(user.id, params.activityId);
    reply.status(created ? 201 : 200).header('cache-control', 'no-store');
    return completion;
  }
}
