// Run after every test file (jest.preset.cjs, setupFilesAfterEnv): a service
// process a timed-out test left running is stopped, so jest can exit and the
// failure is reported instead of the run hanging until CI gives up.
import { stopLeftoverServiceProcesses } from '../service-process';

afterAll(async () => {
  const stopped = await stopLeftoverServiceProcesses();
  if (stopped > 0) process.stderr.write(`stop-leftover-processes: stopped ${stopped} service process(es) this test file left running\n`);
});
