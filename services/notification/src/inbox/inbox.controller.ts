import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems, CREATED_AT_EXACT, DomainError, decodeKeysetCursor, encodeKeysetCursor, zodDto } from '@conveyor/http';
import { Controller, Get, Header, Param, Query, Sse, type MessageEvent } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Observable } from 'rxjs';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import type { NotificationRow } from '../deliveries/delivery-log';
import { NotificationResponse, toNotificationView, type NotificationView } from '../deliveries/notification.view';
import { LiveStreams } from './live-streams';

export const inboxQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    /** Opaque cursor from the previous page's `nextCursor`. */
    cursor: z.string().max(200).optional(),
  })
  .strict();
class InboxParams extends zodDto(inboxQuery) {}
class InboxPageResponse extends zodDto(z.object({ notifications: z.array(NotificationResponse.schema), nextCursor: z.string().nullable() })) {}

export interface InboxPage {
  notifications: NotificationView[];
  nextCursor: string | null;
}

class InboxNotFound extends DomainError {
  constructor() {
    super({ code: 'NOTIFICATION.INBOX_NOT_FOUND', kind: 'not_found', detail: 'No such inbox.' });
  }
}

/** A user's inbox is theirs (or an admin's to read); anyone else gets the 404 of an inbox that does not exist. */
function assertMayRead(user: AuthUser, userId: string): void {
  if (userId !== user.id && !user.roles.includes('admin')) throw new InboxNotFound();
}

@ApiTags('notifications')
@Controller('users/:id/notifications')
export class InboxController {
  constructor(
    private readonly dataSource: DataSource,
    private readonly live: LiveStreams,
  ) {}

  /** The user's notifications from the delivery log, newest first, by keyset pages (created_at, id). */
  @Get()
  @Header('cache-control', 'no-store')
  @ApiOkResponse({ type: InboxPageResponse, description: 'A page' })
  @ApiProblems({ invalid: 'Invalid query or cursor', not_found: 'NOTIFICATION.INBOX_NOT_FOUND: not the caller’s inbox' })
  async list(@CurrentUser() user: AuthUser, @Param('id') userId: string, @Query() query: InboxParams): Promise<InboxPage> {
    assertMayRead(user, userId);
    const after = decodeKeysetCursor(query.cursor);
    const rows: (NotificationRow & { created_at_exact: string })[] = await this.dataSource.query(
      `SELECT *, ${CREATED_AT_EXACT} FROM notifications WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2::timestamptz, $3::uuid))
       ORDER BY created_at DESC, id DESC LIMIT $4`,
      [userId, after?.createdAt ?? null, after?.id ?? null, query.limit + 1],
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      notifications: page.map(toNotificationView),
      nextCursor: rows.length > query.limit && last ? encodeKeysetCursor({ createdAt: last.created_at_exact, id: last.id }) : null,
    };
  }

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
    assertMayRead(user, userId);
    return this.live.stream(userId);
  }
}
