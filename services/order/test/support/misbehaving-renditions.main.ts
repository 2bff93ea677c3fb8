// The order service with a rendition task that hangs or kills its thread on
// request (misbehaving-renditions.ts): how product-images.int-spec.ts fills the
// pool with tasks that never end, and crashes one, without a switch in src/.
import path from 'node:path';
import { telemetry } from '../../src/instrument';
import { RENDITION_TASK } from '../../src/product-images/renditions.port';
import { startOrderWith } from '../bench/start-order';
import { renderOrMisbehave } from './misbehaving-renditions';

void startOrderWith(telemetry, [
  { provide: RENDITION_TASK, useValue: { name: 'product-images', module: path.join(__dirname, 'misbehaving-renditions.ts'), export: renderOrMisbehave.name } },
]);
