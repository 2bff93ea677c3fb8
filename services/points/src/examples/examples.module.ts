import { Module } from '@nestjs/common';
import { ExamplesConsumer } from './examples.consumer';
import { ExamplesController } from './examples.controller';
import { ExamplesService } from './examples.service';

@Module({ controllers: [ExamplesController, ExamplesConsumer], providers: [ExamplesService] })
export class ExamplesModule {}
