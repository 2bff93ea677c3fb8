import { APP_CONFIG } from '@conveyor/config';
import { WorkerPool } from '@conveyor/resilience';
import { MetricsRegistry } from '@conveyor/telemetry';
import { Global, Inject, Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import type { OrderConfig } from '../config';

/** The threads libvips (under sharp, in the renditions) computes pixels on: most of a rendering's CPU is spent there, not in the pool's own threads. */
const LIBVIPS_THREADS = ['libvips worker'];

/**
 * The order service's CPU work off the event loop, one pool for all of it
 * (libs/resilience WorkerPool, piscina): product image renditions and
 * settlement file parses. One pool, not one per feature, so the threads
 * doing CPU work never outnumber ORDER_CPU_POOL_THREADS, whatever the mix;
 * ORDER_CPU_POOL_QUEUE tasks wait at most, and a task past its timeout is
 * cancelled (its thread terminated). The threads, and libvips's, run
 * ORDER_CPU_POOL_NICE lower than the event loop: off the loop is not enough
 * when they outnumber the cores, as the loop then takes turns with them
 * (docs/patterns/in-process-concurrency.md, "Thread pool").
 */
@Injectable()
export class CpuPool extends WorkerPool implements OnModuleDestroy {
  constructor(@Inject(APP_CONFIG) config: OrderConfig, metrics: MetricsRegistry) {
    super({
      name: 'order-cpu',
      threads: config.ORDER_CPU_POOL_THREADS,
      queue: config.ORDER_CPU_POOL_QUEUE,
      taskTimeoutMs: config.ORDER_CPU_POOL_TASK_TIMEOUT_MS,
      niceIncrement: config.ORDER_CPU_POOL_NICE,
      helperThreads: LIBVIPS_THREADS,
      registry: metrics,
    });
  }

  onModuleDestroy(): Promise<void> {
    return this.close();
  }
}

/** Provides the {@link CpuPool} to every feature module. */
@Global()
@Module({ providers: [CpuPool], exports: [CpuPool] })
export class CpuPoolModule {}
