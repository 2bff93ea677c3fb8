import { ApiProblems } from '@conveyor/http';
import { Body, Controller, Get, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CreateExampleBody, ExampleResponse, type ExampleView } from './examples.dto';
import { ExamplesService } from './examples.service';

/** The example feature's HTTP entry point: the body is validated by its DTO, the work is ExamplesService's. */
@ApiTags('examples')
@Controller('examples')
export class ExamplesController {
  constructor(private readonly examples: ExamplesService) {}

  @Post()
  @ApiCreatedResponse({ type: ExampleResponse, description: 'Created' })
  @ApiProblems({ invalid: 'Invalid body' })
  create(@Body() body: CreateExampleBody): Promise<ExampleView> {
    return this.examples.create(body);
  }

  @Get(':id')
  @ApiOkResponse({ type: ExampleResponse, description: 'The example' })
  @ApiProblems({ not_found: 'No such example' })
  get(@Param('id') id: string): Promise<ExampleView> {
    return this.examples.get(id);
  }
}
