import { Module } from '@nestjs/common';
import { OpenApiHttpController } from './openapi.http.controller';

@Module({ controllers: [OpenApiHttpController] })
export class OpenApiModule {}
