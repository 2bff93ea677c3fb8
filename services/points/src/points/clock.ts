import { Injectable } from '@nestjs/common';

/**
 * The time points decides by: whether a lot has expired or is still held,
 * when it expires, which day a daily cap counts. One provider, so a test
 * sets the time (a subclass whose `now()` it moves) instead of sleeping, and
 * every decision in one request sees the same clock. The database's `now()`
 * is used only for audit columns (`created_at`).
 */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
