import { Injectable } from '@nestjs/common';
import { parseSettlementFile } from '../../src/orders/domain/settlement-csv';
import type { SettlementParser, SettlementParseSlot } from '../../src/orders/settlement-parser.port';

/**
 * `make bench-cpu`'s settlement baseline: the file parsed in the service's
 * own thread, on the event loop, as it was before the CPU pool took it.
 */
@Injectable()
export class InlineSettlementParser implements SettlementParser {
  reserve(): SettlementParseSlot {
    return { parse: (file) => parseSettlementFile(null, { stream: file }), release: () => undefined };
  }
}
