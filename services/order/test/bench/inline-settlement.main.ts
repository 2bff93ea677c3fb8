// `make bench-cpu`'s settlement baseline: the order service parsing settlement files on its event loop.
import { telemetry } from '../../src/instrument';
import { SETTLEMENT_PARSER } from '../../src/orders/settlement-parser.port';
import { InlineSettlementParser } from './inline-settlement';
import { startOrderWith } from './start-order';

void startOrderWith(telemetry, [{ provide: SETTLEMENT_PARSER, useClass: InlineSettlementParser }]);
