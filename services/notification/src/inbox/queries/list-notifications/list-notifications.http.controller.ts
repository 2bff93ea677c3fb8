import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, keysetPage } from '@conveyor/http';
import { Controller, Get, Header, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { toNotificationView } from '../../../deliveries/notification.model';
import { NotificationsRepository } from '../../../deliveries/notifications.repository';
import { assertMayReadInbox } from '../../inbox-access.policy';
import { InboxPageResponse, ListNotificationsParams, type InboxPage } from './list-notifications.dto';

@ApiTags('notifications')
@Controller('users/:id/notifications')
export class ListNotificationsHttpController {
  constructor(private readonly notifications: NotificationsRepository) {}

  /** The user's notifications from the delivery log, newest first, by keyset pages (created_at, id). */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: InboxPageResponse, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query or cursor', not_found: 'NOTIFICATION.INBOX_NOT_FOUND: not the caller’s inbox' })
  async list(@CurrentUser() user: AuthUser, @Param('id') userId: string, @Query() query: ListNotificationsParams): Promise<InboxPage> {
    assertMayReadInbox(user, userId);
    const page = await keysetPage({
      cursor: query.cursor,
      limit: query.limit,
      fetch: (after, take) => this.notifications.newestOfUser(userId, after, take),
      cursorOf: (last) => ({ createdAt: last.created_at_exact, id: last.id }),
    });
    return { notifications: page.rows.map(toNotificationView), nextCursor: page.nextCursor };
  }
}
