import { Clock } from '@conveyor/config';

/** A {@link Clock} the test sets or moves: time-based decisions without sleeps. */
export class ManualClock extends Clock {
  private at: number;

  constructor(start: Date | number = Date.now()) {
    super();
    this.at = new Date(start).getTime();
  }

  override now(): Date {
    return new Date(this.at);
  }

  set(at: Date | number): void {
    this.at = new Date(at).getTime();
  }

  advance(ms: number): void {
    this.at += ms;
  }
}
