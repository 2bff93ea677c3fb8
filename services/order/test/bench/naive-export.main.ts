// `make bench-export`'s baseline: the order service with the load-everything export.
import { telemetry } from '../../src/instrument';
import { ExportOrdersService } from '../../src/orders/queries/export-orders/export-orders.service';
import { NaiveExportOrdersService } from './naive-export';
import { startOrderWith } from './start-order';

void startOrderWith(telemetry, [{ provide: ExportOrdersService, useClass: NaiveExportOrdersService }]);
