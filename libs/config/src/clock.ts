import { Injectable } from '@nestjs/common';

/**
 * Where a service's decisions read the time from (a lot's expiry, a hold's
 * end, a daily cap's day, the reconciler's back-off). One injectable class,
 * its own token: a test provides a clock it moves (libs/testing
 * `ManualClock`) instead of sleeping, and every decision in one request sees
 * the same time. The database's `now()` stays for audit columns.
 */
@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }
}
