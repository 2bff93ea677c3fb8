import { connect, type ChannelModel } from 'amqplib';
import { localServers } from './local-servers';

/** Connects to the local RabbitMQ; close it in afterAll. */
export function connectTestRabbitmq(): Promise<ChannelModel> {
  return connect(localServers().RABBITMQ_URL);
}
