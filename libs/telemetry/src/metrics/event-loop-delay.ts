import type { OnModuleDestroy } from '@nestjs/common';
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { Registry } from 'prom-client';

/** Sampling resolution of the monitors: a sample every 10 ms (Node's default), each the time since the previous one. */
const RESOLUTION_MS = 10;

/** Bucket bounds in seconds: from a healthy loop (a sample is about the resolution) to one stalled for seconds. */
export const EVENT_LOOP_DELAY_BUCKETS = [0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export const EVENT_LOOP_DELAY_METRIC = 'nodejs_eventloop_delay_seconds';

export interface EventLoopDelayOptions {
  /**
   * Length of one window: the histogram is brought up to date, and the delay
   * readiness looks at is the longest of the last one to two windows.
   */
  windowMs: number;
}

/**
 * The event loop's delay, measured by `perf_hooks.monitorEventLoopDelay`
 * (a libuv timer in C++ that records how long each turn between two of its
 * ticks took), exported as the Prometheus histogram
 * `nodejs_eventloop_delay_seconds` and read by readiness
 * ({@link recentMaxMs}).
 *
 * Two monitors, reset in turn one window apart: after a reset a monitor
 * does not record its first interval (Node keeps no previous tick), so a
 * stall that starts just after one monitor's reset is still seen, whole, by
 * the other. The histogram is folded from the first monitor at each of its
 * resets (every two windows): bucket counts from its percentiles (exact to
 * the HDR histogram's precision), the sum from its mean.
 */
export class EventLoopDelay implements OnModuleDestroy {
  private readonly monitors: [ELDHistogram, ELDHistogram];
  private readonly timer: NodeJS.Timeout;
  private turn = 0;
  private readonly buckets = EVENT_LOOP_DELAY_BUCKETS.map(() => 0);
  private count = 0;
  private sumSeconds = 0;

  constructor(registry: Registry, options: EventLoopDelayOptions) {
    this.monitors = [monitorEventLoopDelay({ resolution: RESOLUTION_MS }), monitorEventLoopDelay({ resolution: RESOLUTION_MS })];
    for (const monitor of this.monitors) monitor.enable();
    this.timer = setInterval(() => this.rotate(), options.windowMs).unref();
    registry.registerMetric(this.metric() as never);
  }

  /** The longest delay, in ms, of the last one to two windows (0 before any sample). */
  recentMaxMs(): number {
    return Math.max(...this.monitors.map((m) => (m.count > 0 ? m.max / 1e6 : 0)));
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    for (const monitor of this.monitors) monitor.disable();
  }

  private rotate(): void {
    const index = this.turn % 2;
    this.turn += 1;
    const monitor = this.monitors[index];
    if (index === 0) this.fold(monitor);
    monitor.reset();
  }

  private fold(monitor: ELDHistogram): void {
    const count = monitor.count;
    if (count === 0) return;
    this.count += count;
    this.sumSeconds += (monitor.mean * count) / 1e9;
    EVENT_LOOP_DELAY_BUCKETS.forEach((le, i) => {
      this.buckets[i] += Math.round(count * shareAtMost(monitor, le * 1e9));
    });
  }

  /** A prom-client metric that reads the folded counts (prom-client's Histogram takes one observation at a time, not a distribution). */
  private metric() {
    const buckets = (): { value: number; labels: { le: string | number }; metricName: string }[] => {
      // Cumulative by construction, kept monotonic against rounding.
      let previous = 0;
      const rows = EVENT_LOOP_DELAY_BUCKETS.map((le, i) => {
        previous = Math.max(previous, Math.min(this.buckets[i], this.count));
        return { value: previous, labels: { le }, metricName: `${EVENT_LOOP_DELAY_METRIC}_bucket` };
      });
      return [...rows, { value: this.count, labels: { le: '+Inf' }, metricName: `${EVENT_LOOP_DELAY_METRIC}_bucket` }];
    };
    const help = `Event-loop delay (perf_hooks.monitorEventLoopDelay, a sample every ${RESOLUTION_MS} ms: the time between two ticks, so a healthy loop samples about ${RESOLUTION_MS} ms).`;
    return {
      name: EVENT_LOOP_DELAY_METRIC,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({
        name: EVENT_LOOP_DELAY_METRIC,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...buckets(),
          { value: this.sumSeconds, labels: {}, metricName: `${EVENT_LOOP_DELAY_METRIC}_sum` },
          { value: this.count, labels: {}, metricName: `${EVENT_LOOP_DELAY_METRIC}_count` },
        ],
      }),
      reset: () => {
        this.buckets.fill(0);
        this.count = 0;
        this.sumSeconds = 0;
      },
    };
  }
}

/** The share (0 to 1) of the monitor's samples at most `ns`: the largest percentile whose value is within it, by bisection. */
function shareAtMost(monitor: ELDHistogram, ns: number): number {
  if (monitor.max <= ns) return 1;
  if (monitor.min > ns) return 0;
  let low = 0;
  let high = 100;
  for (let i = 0; i < 30; i += 1) {
    const mid = (low + high) / 2;
    if (monitor.percentile(mid) <= ns) low = mid;
    else high = mid;
  }
  return low / 100;
}
