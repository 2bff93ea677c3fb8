import { ApiProblems, zodDto } from '@conveyor/http';
import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { OutageBody, PutFaultsBody, type PutFaultsRequest } from '../faults/faults.dto';
import { FaultsService } from '../faults/faults.service';
import type { Delivery } from '../messages/messages.dto';
import { MessagesService } from '../messages/messages.service';
import { PaymentsService, type PaymentTotals } from '../payments/payments.service';
import { OutageService } from './outage.service';

class DeliveriesParams extends zodDto(z.object({ channel: z.enum(['sms', 'push']).optional() })) {}

/** Totals for invariant checks: money, per order, attempts per route, requests in flight per route, deliveries. */
export interface Ledger extends PaymentTotals {
  attempts: Record<string, number>;
  /** Requests of each route being served now. */
  inFlight: Record<string, number>;
  /** The most requests of each route served at once since the last reset (what a client's bulkhead must keep down). */
  maxInFlight: Record<string, number>;
  deliveries: Record<string, number>;
}

/** Fault injection and inspection; only mounted when PROVIDER_SIM_ADMIN=true. */
@ApiTags('admin')
@Controller('_admin')
export class AdminController {
  constructor(
    private readonly faults: FaultsService,
    private readonly payments: PaymentsService,
    private readonly messages: MessagesService,
    private readonly outage: OutageService,
  ) {}

  @Put('faults')
  @ApiOkResponse({ description: 'The faults now set' })
  @ApiProblems({ invalid: 'Invalid faults' })
  putFaults(@Body() body: PutFaultsBody): PutFaultsRequest {
    this.faults.replace(body);
    return this.faults.current();
  }

  @Get('faults')
  @ApiOkResponse({ description: 'The faults now set' })
  getFaults(): PutFaultsRequest {
    return this.faults.current();
  }

  @Delete('faults')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Cleared' })
  clearFaults(): void {
    this.faults.clear();
  }

  @Get('ledger')
  @ApiOkResponse({ description: 'Totals: money, per order, attempts per route, deliveries' })
  ledger(): Ledger {
    return { ...this.payments.totals(), attempts: this.faults.attemptCounts(), ...this.faults.concurrency(), deliveries: this.messages.counts() };
  }

  @Get('deliveries')
  @ApiOkResponse({ description: 'Accepted messages' })
  @ApiProblems({ invalid: 'Invalid query' })
  deliveries(@Query() query: DeliveriesParams): Delivery[] {
    return this.messages.list(query.channel);
  }

  /** Clears faults, attempt counters, payments and deliveries: a fresh provider without a restart. */
  @Post('reset')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Reset' })
  reset(): void {
    this.faults.clear();
    this.faults.resetCounters();
    this.payments.reset();
    this.messages.reset();
  }

  /** Refuses every connection for `durationMs` (this API included), then listens again. */
  @Post('outage')
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'The outage starts once this answer is out' })
  @ApiProblems({ invalid: 'Invalid body' })
  startOutage(@Body() body: OutageBody, @Res({ passthrough: true }) reply: FastifyReply): { durationMs: number } {
    // Close the listener only once this answer is out.
    reply.raw.once('finish', () => this.outage.start(body.durationMs));
    return body;
  }
}
