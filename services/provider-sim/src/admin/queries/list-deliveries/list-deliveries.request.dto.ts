import { zodDto } from '@conveyor/http';
import { z } from 'zod';

/** `GET /_admin/deliveries`: one channel's, or all. */
export class DeliveriesParams extends zodDto(z.object({ channel: z.enum(['sms', 'push']).optional() })) {}
