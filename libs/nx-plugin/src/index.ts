export { normalizeOptions, registeredServices, serviceGenerator, type NormalizedOptions } from './generators/service/generator';
export type { ServiceGeneratorSchema } from './generators/service/schema';
