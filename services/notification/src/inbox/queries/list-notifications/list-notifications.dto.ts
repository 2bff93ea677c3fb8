import { zodDto } from '@conveyor/http';
import { z } from 'zod';
import { NotificationResponse, type NotificationView } from '../../../deliveries/notification.model';

/** `GET /users/{id}/notifications`: page size and the cursor of the page before. */
export const listNotificationsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(20),
    /** Opaque cursor from the previous page's `nextCursor`. */
    cursor: z.string().max(200).optional(),
  })
  .strict();
export class ListNotificationsParams extends zodDto(listNotificationsQuery) {}

export class InboxPageResponse extends zodDto(z.object({ notifications: z.array(NotificationResponse.schema), nextCursor: z.string().nullable() })) {}

/** One page of the inbox, newest first. */
export interface InboxPage {
  notifications: NotificationView[];
  nextCursor: string | null;
}
