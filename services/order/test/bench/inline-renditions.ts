import { Injectable } from '@nestjs/common';
import { renderRenditions } from '../../src/product-images/domain/renditions';
import type { Renditions, RenditionSlot } from '../../src/product-images/renditions.port';

/**
 * `make bench-cpu`'s baseline: renditions computed in the service's own
 * thread, on the event loop, and unbounded (every upload admitted), as a
 * service without a worker pool would do it.
 */
@Injectable()
export class InlineRenditions implements Renditions {
  reserve(): RenditionSlot {
    return { render: (original) => renderRenditions(original), release: () => undefined };
  }
}
