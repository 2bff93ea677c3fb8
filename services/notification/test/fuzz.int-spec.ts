import { itFuzzesEveryOperation } from '@conveyor/testing';
import { startNotificationStack, type NotificationStack } from './support/notification-stack';

/**
 * The fuzz suite on the notification API, as a user: no 5xx, every answer as
 * documented (status, content type, headers, body). The live stream is left out: an accepted stream
 * never ends, which is what it is for (inbox.int-spec.ts tests it).
 */
describe('notification: fuzzing from the OpenAPI document', () => {
  let stack: NotificationStack;

  beforeAll(async () => {
    stack = await startNotificationStack();
  }, 90_000);

  afterAll(() => stack?.stop());

  itFuzzesEveryOperation(
    'notification',
    () => stack.service.url,
    { 'a user': () => stack.tokens.asUser('fuzz-user') },
    { maxExamples: 20, excludePathRegex: '/stream$' },
  );
});
