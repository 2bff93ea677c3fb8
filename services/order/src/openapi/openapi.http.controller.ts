import { Controller, Get, Header } from '@nestjs/common';
import { buildOpenApiDocument, type OpenApiDocument } from './openapi.document';

@Controller()
export class OpenApiHttpController {
  private readonly document = buildOpenApiDocument();

  /** The OpenAPI 3.1 description of this API. */
  @Get('openapi.json')
  @Header('cache-control', 'public, max-age=300')
  openapi(): OpenApiDocument {
    return this.document;
  }
}
