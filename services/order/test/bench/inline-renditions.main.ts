// `make bench-cpu`'s baseline: the order service rendering product images on its event loop.
import { telemetry } from '../../src/instrument';
import { RENDITIONS_PORT } from '../../src/product-images/renditions.port';
import { InlineRenditions } from './inline-renditions';
import { startOrderWith } from './start-order';

void startOrderWith(telemetry, [{ provide: RENDITIONS_PORT, useClass: InlineRenditions }]);
