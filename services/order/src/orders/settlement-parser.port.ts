import { APP_CONFIG } from '@conveyor/config';
import type { WorkerTask } from '@conveyor/resilience';
import { Inject, Injectable } from '@nestjs/common';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { OrderConfig } from '../config';
import { CpuPool } from '../cpu-pool/cpu-pool.module';
import { parseSettlementFile, type ParsedSettlement } from './domain/settlement-csv';

/** A place to parse one settlement file in, reserved before the file is downloaded. */
export interface SettlementParseSlot {
  /** Parses the file as it arrives; rejects with the parse's or the download's error, or when the parse's thread died or it timed out. Frees the slot. */
  parse(file: Readable): Promise<ParsedSettlement>;
  /** Gives the slot back unused. */
  release(): void;
}

/** Where settlement files are parsed. */
export interface SettlementParser {
  /** A slot, or undefined at once when the CPU pool and its queue are full. */
  reserve(): SettlementParseSlot | undefined;
}

export const SETTLEMENT_PARSER = Symbol('SETTLEMENT_PARSER');

const parseSettlementTask = (timeoutMs: number): WorkerTask<null, ParsedSettlement> => ({
  name: 'settlement-parse',
  // The module of parseSettlementFile, as this file was loaded (.ts from source, .js when built).
  module: path.join(__dirname, 'domain', `settlement-csv${path.extname(__filename)}`),
  export: parseSettlementFile.name,
  timeoutMs,
});

/**
 * Settlement files parsed on the service's CPU pool (cpu-pool.ts), the one
 * product image renditions use: the download's bytes are handed to a thread
 * as they arrive, and the live charges come back. The event loop only moves
 * bytes. A parse past ORDER_SETTLEMENT_PARSE_TIMEOUT_MS is cancelled.
 */
@Injectable()
export class PoolSettlementParser implements SettlementParser {
  private readonly task: WorkerTask<null, ParsedSettlement>;

  constructor(
    private readonly pool: CpuPool,
    @Inject(APP_CONFIG) config: OrderConfig,
  ) {
    this.task = parseSettlementTask(config.ORDER_SETTLEMENT_PARSE_TIMEOUT_MS);
  }

  reserve(): SettlementParseSlot | undefined {
    const slot = this.pool.reserve(this.task);
    return slot && { parse: (file) => slot.run(null, { stream: file }), release: () => slot.release() };
  }
}
