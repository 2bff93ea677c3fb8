/** Options of `nx g @conveyor/nx-plugin:service` (schema.json is the source of truth for the CLI). */
export interface ServiceGeneratorSchema {
  name: string;
  port: number;
  database?: boolean;
  outbox?: boolean;
  kafkaConsumer?: string;
  rabbitmqConsumer?: string;
  skipFormat?: boolean;
}
