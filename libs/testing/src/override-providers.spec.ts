import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { overrideProviders } from './override-providers';

@Injectable()
class Greeter {
  greet(): string {
    return 'hello';
  }
}

@Injectable()
class LoudGreeter extends Greeter {
  override greet(): string {
    return 'HELLO';
  }
}

@Injectable()
class Door {
  constructor(readonly greeter: Greeter) {}
}

@Module({ providers: [Greeter, Door], exports: [Door] })
class FeatureModule {}

@Module({})
class RootModule {}

describe('overrideProviders', () => {
  it('When a provider of an imported module is overridden, then the app gets the override, injected where the original was', async () => {
    const app = await NestFactory.createApplicationContext(
      overrideProviders({ module: RootModule, imports: [FeatureModule] }, [{ provide: Greeter, useClass: LoudGreeter }]),
      { logger: false },
    );
    expect(app.get(Door, { strict: false }).greeter.greet()).toBe('HELLO');
    await app.close();
  });

  it('When no module declares the overridden provider, then it says so instead of running the original', () => {
    expect(() => overrideProviders({ module: RootModule, imports: [] }, [{ provide: Greeter, useClass: LoudGreeter }])).toThrow(/no module declares/);
  });
});
