import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Controller, Param, Sse, type MessageEvent } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Observable } from 'rxjs';
import { assertMayReadInbox } from '../../inbox-access.policy';
import { StreamNotificationsService } from './stream-notifications.service';

@ApiTags('notifications')
@Controller('users/:id/notifications')
export class StreamNotificationsHttpController {
  constructor(private readonly streams: StreamNotificationsService) {}

  /**
   * Server-Sent Events: each notification sent to the user from now on (event
   * `notification`, data as in the inbox), whichever replica sent it. Live
   * only: what was sent while no stream was open is in the inbox, not replayed here.
   */
  @Sse('stream')
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'text/event-stream of `notification` events' })
  @ApiProblems({ not_found: 'NOTIFICATION.INBOX_NOT_FOUND: not the caller’s inbox' })
  stream(@CurrentUser() user: AuthUser, @Param('id') userId: string): Observable<MessageEvent> {
    assertMayReadInbox(user, userId);
    return this.streams.stream(userId);
  }
}
