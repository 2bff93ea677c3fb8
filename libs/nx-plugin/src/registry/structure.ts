import { REGISTRY_FILE, type WorkspaceFiles } from './registry';

/**
 * The checkable rules of the feature dialect (docs/architecture.md, "How a
 * feature is written") over services/<name>/src: used by
 * tools/check-structure.mjs and by the generator's spec on what it writes.
 */

/** Rule 1: the roles a file under src/ may have, by its name's ending. */
export const ALLOWED_SUFFIXES = [
  '.module.ts',
  '.http.controller.ts',
  '.consumer.ts',
  '.job.ts',
  '.service.ts',
  '.repository.ts',
  '.errors.ts',
  '.port.ts',
  '.gateway.ts',
  '.dto.ts',
  '.model.ts',
  '.policy.ts',
  '.spec.ts',
] as const;

/** The chassis files at the root of src/, the same in every service. */
export const CHASSIS_FILES = ['main.ts', 'instrument.ts', 'config.ts', 'app.module.ts', 'migrate.ts'] as const;

/** Rule 2: entry points (any controller, even one misnamed) and use cases, where no SQL may be. */
const NO_SQL_ROLES = ['.controller.ts', '.consumer.ts', '.service.ts', '.job.ts'];

/** What counts as SQL or a TypeORM query (rule 2), each with what to say. */
const SQL: [RegExp, string][] = [
  [/\.query\s*[<(]/, '.query('],
  [/\bcreateQueryBuilder\b/, 'createQueryBuilder'],
  [/\bgetRepository\b/, 'getRepository'],
  [
    /\b(?:manager|entityManager|em|tx)\s*\.\s*(?:find\w*|insert|update|delete|save|upsert|remove|count\w*|increment|decrement|exists\w*)\s*\(/,
    'an EntityManager query',
  ],
  [/['"`]\s*(?:SELECT\s|INSERT\s+INTO\s|UPDATE\s+\S+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s*\(|CREATE\s+(?:TABLE|INDEX)\s)/, 'an SQL string'],
];

/** Comments out of the way (a comment may mention `.query(`); strings stay. Approximate, enough for these rules. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const exempt = (relative: string) =>
  (CHASSIS_FILES as readonly string[]).includes(relative) || relative.startsWith('database/') || relative.split('/').slice(0, -1).includes('domain');

/** Every break of the dialect's checkable rules in one service, one sentence each. */
export function checkServiceStructure(files: WorkspaceFiles, service: string): string[] {
  const src = `services/${service}/src`;
  const problems: string[] = [];
  for (const file of allTsFiles(files, src)) {
    const relative = file.slice(src.length + 1);
    if (!exempt(relative) && !ALLOWED_SUFFIXES.some((suffix) => relative.endsWith(suffix)))
      problems.push(`${file}: rule 1, its name ends in no role${relative.endsWith('.controller.ts') ? ' (a controller is .http.controller.ts)' : ''}`);
    if (NO_SQL_ROLES.some((role) => relative.endsWith(role))) {
      const code = withoutComments(files.read(file) ?? '');
      const lines = new Map<number, string>();
      for (const [pattern, what] of SQL) {
        const match = pattern.exec(code);
        const line = match ? code.slice(0, match.index).split('\n').length : 0;
        if (match && !lines.has(line)) lines.set(line, what);
      }
      for (const [line, what] of [...lines].sort(([a], [b]) => a - b)) problems.push(`${file}:${line}: rule 2, ${what} outside a repository`);
    }
  }
  for (const folder of files.children(src)) {
    const path = `${src}/${folder}`;
    if (files.isFile(path) || folder === 'database') continue;
    if (!files.children(path).some((name) => name.endsWith('.module.ts') && files.isFile(`${path}/${name}`)))
      problems.push(`${path}: rule 5, a feature folder without its .module.ts`);
  }
  return problems;
}

function allTsFiles(files: WorkspaceFiles, dir: string): string[] {
  return files.children(dir).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (!files.isFile(path)) return allTsFiles(files, path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The services the check covers: every folder under services/ (each must be in the registry). */
export function checkStructure(files: WorkspaceFiles, only: string[] = []): { service: string; problems: string[] }[] {
  const registered = registeredNames(files);
  const folders = files.children('services').filter((name) => !files.isFile(`services/${name}`));
  return folders
    .filter((service) => only.length === 0 || only.includes(service))
    .map((service) => ({
      service,
      problems: [
        ...(registered.includes(service)
          ? []
          : [`services/${service}: not in ${REGISTRY_FILE} (a service is added to the registry, e.g. by nx g @conveyor/nx-plugin:service)`]),
        ...checkServiceStructure(files, service),
      ],
    }));
}

function registeredNames(files: WorkspaceFiles): string[] {
  try {
    const raw = JSON.parse(files.read(REGISTRY_FILE) ?? '{}') as { services?: { name?: unknown }[] };
    return (raw.services ?? []).map((s) => String(s.name));
  } catch {
    return [];
  }
}
