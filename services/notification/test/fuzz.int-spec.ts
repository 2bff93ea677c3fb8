import { itFuzzesEveryOperation, type ServiceProcess } from '@conveyor/testing';
import { notificationResources, startNotification, startSim, type NotificationResources, type Sim } from './support/stack';

/**
 * The fuzz suite on the notification API, as a user: no 5xx, every answer as
 * documented (status, content type, headers, body). The live stream is left out: an accepted stream
 * never ends, which is what it is for (inbox.int-spec.ts tests it).
 */
describe('notification: fuzzing from the OpenAPI document', () => {
  let sim: Sim;
  let resources: NotificationResources;
  let service: ServiceProcess;

  beforeAll(async () => {
    sim = await startSim();
    resources = await notificationResources(sim);
    service = await startNotification(resources);
  }, 90_000);

  afterAll(async () => {
    await service?.stop();
    await sim?.process.stop();
    await resources?.db.drop();
  });

  itFuzzesEveryOperation(
    'notification',
    () => service.url,
    { 'a user': () => resources.tokens.asUser('fuzz-user') },
    { maxExamples: 20, excludePathRegex: '/stream$' },
  );
});
