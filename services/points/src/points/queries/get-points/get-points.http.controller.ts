import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Controller, Get, Header, Param } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { UserIdParams } from '../../account.model';
import { PointsResponse, type PointsView } from './get-points.dto';
import { GetPointsService } from './get-points.service';

/** Reading an account: its owner's, or any for an admin; anyone else's is 404. */
@ApiTags('points')
@Controller('users/:id/points')
export class GetPointsHttpController {
  constructor(private readonly getPoints: GetPointsService) {}

  /** Balance (what is available now and what is held), debt and the points expiring within POINTS_EXPIRING_SOON_S. The caller's own account reads as 0 before its first earning. */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: PointsResponse, description: 'The account' })
  @ApiProblems({ not_found: "No such account (or not the caller's)", invalid: 'Invalid user id' })
  get(@CurrentUser() user: AuthUser, @Param() params: UserIdParams): Promise<PointsView> {
    return this.getPoints.get(user, params.id);
  }
}
