import type { DynamicModule, ForwardReference, Provider, Type } from '@nestjs/common';
import { MODULE_METADATA } from '@nestjs/common/constants';

type ModuleEntry = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

const tokenOf = (provider: Provider): unknown => (typeof provider === 'function' ? provider : provider.provide);

const metadata = <T>(key: string, target: object): T[] => (Reflect.getMetadata(key, target) as T[] | undefined) ?? [];

/**
 * `root` with some providers replaced wherever a module of its tree declares
 * them: what `Test.createTestingModule(...).overrideProvider(...)` does, for a
 * real process started through NestFactory (a benchmark's variant of a
 * service, `services/<name>/test/bench`). Every module on the path to a
 * replaced provider is rebuilt as a dynamic module with the same imports,
 * controllers, providers and exports; the rest of the tree is shared as is.
 * (A module imported from two places is rebuilt once per place: fine for the
 * feature modules a bench overrides, which one parent imports.)
 */
export function overrideProviders(root: DynamicModule, overrides: Provider[]): DynamicModule {
  const replacement = new Map(overrides.map((p) => [tokenOf(p), p]));
  const rebuilt = new Map<ModuleEntry, ModuleEntry>();

  const visit = (entry: ModuleEntry): ModuleEntry => {
    if (entry instanceof Promise || 'forwardRef' in entry) return entry;
    const known = rebuilt.get(entry);
    if (known) return known;
    const dynamic = 'module' in entry ? entry : undefined;
    const cls = dynamic?.module ?? (entry as Type);
    const imports = [...metadata<ModuleEntry>(MODULE_METADATA.IMPORTS, cls), ...(dynamic?.imports ?? [])];
    const providers = [...metadata<Provider>(MODULE_METADATA.PROVIDERS, cls), ...(dynamic?.providers ?? [])];
    const newImports = imports.map(visit);
    const newProviders = providers.map((p) => replacement.get(tokenOf(p)) ?? p);
    const changed = newImports.some((m, i) => m !== imports[i]) || newProviders.some((p, i) => p !== providers[i]);
    if (!changed) {
      rebuilt.set(entry, entry);
      return entry;
    }
    // A fresh class without @Module metadata: everything comes from the dynamic fields below.
    const module = { [cls.name]: class {} }[cls.name];
    const result: DynamicModule = {
      module,
      global: dynamic?.global,
      imports: newImports,
      controllers: [...metadata<Type>(MODULE_METADATA.CONTROLLERS, cls), ...(dynamic?.controllers ?? [])],
      providers: newProviders,
      exports: [...metadata<NonNullable<DynamicModule['exports']>[number]>(MODULE_METADATA.EXPORTS, cls), ...(dynamic?.exports ?? [])],
    };
    rebuilt.set(entry, result);
    return result;
  };

  const result = visit(root) as DynamicModule;
  const used = new Set<unknown>();
  const mark = (entry: ModuleEntry): void => {
    if (entry instanceof Promise || 'forwardRef' in entry) return;
    const dynamic = 'module' in entry ? entry : undefined;
    for (const p of [...metadata<Provider>(MODULE_METADATA.PROVIDERS, dynamic?.module ?? (entry as Type)), ...(dynamic?.providers ?? [])]) used.add(p);
    [...metadata<ModuleEntry>(MODULE_METADATA.IMPORTS, dynamic?.module ?? (entry as Type)), ...(dynamic?.imports ?? [])].forEach(mark);
  };
  mark(result);
  const unused = overrides.filter((p) => !used.has(p));
  if (unused.length) throw new Error(`no module declares ${unused.map((p) => String(tokenOf(p))).join(', ')}`);
  return result;
}
