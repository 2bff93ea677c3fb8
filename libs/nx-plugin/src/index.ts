export { normalizeOptions, readRegistry, registryEntry, serviceGenerator, type NormalizedOptions } from './generators/service/generator';
export type { ServiceGeneratorSchema } from './generators/service/schema';
export { checkPlaces, parseRegistry, REGISTRY_FILE, writePlaces, type RegisteredService, type Registry, type WorkspaceFiles } from './registry/registry';
export { ALLOWED_SUFFIXES, checkServiceStructure, checkStructure } from './registry/structure';
