import { serviceAsyncApi, type AsyncApiDocument } from '@conveyor/contracts';
import { Public } from '@conveyor/http';
import { Controller, Get, Header, Inject, type Provider } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';

const ASYNCAPI_DOCUMENT = Symbol('ASYNCAPI_DOCUMENT');

/** The service's part of the system's AsyncAPI document (libs/contracts), chosen once at start-up. */
export const asyncApiDocumentProvider = (serviceName: string): Provider => ({ provide: ASYNCAPI_DOCUMENT, useValue: serviceAsyncApi(serviceName) });

/**
 * `GET /asyncapi.json`, next to `/openapi.json`: the messages this service
 * sends and handles (channels, keys, headers, payload schemas), as an
 * AsyncAPI 3.0 document. It is the part of the one document `make contracts`
 * generates from libs/contracts and the services' code, and checks.
 */
@Public()
@ApiTags('documents')
@Controller()
export class AsyncApiController {
  constructor(@Inject(ASYNCAPI_DOCUMENT) private readonly document: AsyncApiDocument) {}

  @Get('asyncapi.json')
  @Header('cache-control', 'public, max-age=300')
  @ApiOkResponse({ description: "AsyncAPI 3.0 document of the service's messages (what it sends, what it handles)", schema: { type: 'object' } })
  asyncapi(): AsyncApiDocument {
    return this.document;
  }
}
