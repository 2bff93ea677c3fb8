import Redis from 'ioredis';
import { localServers } from './local-servers';
import { uniqueName } from './unique-names';

/** A Redis client whose every key is prefixed for this test run. */
export function testRedis(prefix = 'redis'): Redis {
  return new Redis(localServers().REDIS_URL, { keyPrefix: `${uniqueName(prefix)}:`, lazyConnect: false });
}
