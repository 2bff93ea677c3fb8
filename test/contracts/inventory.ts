import * as contracts from '@conveyor/contracts';
import type { ChannelContract, EventContract } from '@conveyor/contracts';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One TypeScript file of a service. */
export interface ServiceSource {
  service: string;
  /** Relative to the repository root, for messages. */
  path: string;
  text: string;
}

/** Where in the code a fact was read: `services/search/src/…ts:15`. */
type Where = string;

export interface Use {
  service: string;
  /** The message's `type`. */
  type: string;
  where: Where;
}

/**
 * What the code of services/ does with messages, read from the source (not
 * run): the `@EventPattern` handlers (consumed), the contracts' `create()`
 * calls that reach the outbox (produced), the channels each service's consumer
 * options subscribe to, and whatever could not be read as one of those.
 */
export interface Inventory {
  consumed: Use[];
  produced: Use[];
  subscribed: { service: string; channel: string; where: Where }[];
  /** Code the check cannot attribute to a contract: a handler of a computed pattern, an outbox message not made by `create()`. */
  unreadable: { service: string; what: string; where: Where }[];
}

/** The outcome of comparing the inventory with libs/contracts. */
export interface ContractReport {
  /** Message types the channels of libs/contracts declare. */
  events: number;
  /** Distinct types written to an outbox. */
  produced: number;
  /** Distinct types with a handler. */
  consumed: number;
  /** Consumed types that no service produces: the handler never runs. */
  orphans: Use[];
  /** Everything else that is wrong, one sentence each. */
  problems: string[];
}

// Every contract libs/contracts exports, by its export name (what an import names it by).
const contractExports = new Map<string, EventContract<string, never>>(
  Object.entries(contracts as Record<string, unknown>).flatMap(([name, value]) => (isContract(value) ? [[name, value] as const] : [])),
);
// Every consumer schema, by its export name (`orderEventSchema`), to the channels it reads.
const schemaExports = new Map<string, ChannelContract[]>(
  Object.entries(contracts).flatMap(([name, value]) => {
    const channels = contracts.Channels.filter((c) => c.consumerSchema === value);
    return channels.length ? [[name, channels] as const] : [];
  }),
);

function isContract(value: unknown): value is EventContract<string, never> {
  const v = value as Partial<EventContract<string, never>> | undefined;
  return typeof v === 'object' && v !== null && typeof v.type === 'string' && typeof v.create === 'function' && v.schema !== undefined;
}

/** The channel that carries a message type (a type belongs to one channel). */
export function channelOf(type: string): ChannelContract | undefined {
  return contracts.Channels.find((c) => c.messages.some((m) => m.type === type));
}

/** The services' TypeScript sources: services/<name>/src/**\/*.ts, without unit tests. */
export function readServiceSources(root: string): ServiceSource[] {
  const sources: ServiceSource[] = [];
  for (const service of readdirSync(path.join(root, 'services')).sort()) {
    const src = path.join(root, 'services', service, 'src');
    let files: string[];
    try {
      files = readdirSync(src, { recursive: true, encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const file of files.sort()) {
      if (!file.endsWith('.ts') || file.endsWith('.spec.ts') || file.endsWith('.d.ts')) continue;
      const full = path.join(src, file);
      sources.push({ service, path: path.relative(root, full), text: readFileSync(full, 'utf8') });
    }
  }
  return sources;
}

/** Reads what each source does with messages. Only imports from `@conveyor/contracts` count, under any local name. */
export function scanSources(sources: ServiceSource[]): Inventory {
  const inventory: Inventory = { consumed: [], produced: [], subscribed: [], unreadable: [] };
  for (const source of sources) scanFile(source, inventory);
  return inventory;
}

function scanFile(source: ServiceSource, inventory: Inventory): void {
  const file = ts.createSourceFile(source.path, source.text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const named = new Map<string, string>(); // local name → export name
  const namespaces = new Set<string>();
  for (const statement of file.statements) {
    if (!ts.isImportDeclaration(statement) || (statement.moduleSpecifier as ts.StringLiteral).text !== '@conveyor/contracts') continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamespaceImport(bindings)) namespaces.add(bindings.name.text);
    if (bindings && ts.isNamedImports(bindings)) for (const el of bindings.elements) named.set(el.name.text, (el.propertyName ?? el.name).text);
  }
  const where = (node: ts.Node): Where => `${source.path}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
  /** The export of @conveyor/contracts an expression names (`OrderPaid`, `C.OrderPaid`), if it names one. */
  const exportName = (expr: ts.Expression): string | undefined => {
    if (ts.isIdentifier(expr)) return named.get(expr.text);
    if (ts.isPropertyAccessExpression(expr) && ts.isIdentifier(expr.expression) && namespaces.has(expr.expression.text)) return expr.name.text;
    return undefined;
  };
  const contractOf = (expr: ts.Expression) => contractExports.get(exportName(expr) ?? '');
  /** `X.create(…)` of a contract: its type. */
  const createdType = (expr: ts.Expression): string | undefined => {
    if (!ts.isCallExpression(expr) || !ts.isPropertyAccessExpression(expr.expression) || expr.expression.name.text !== 'create') return undefined;
    return contractOf(expr.expression.expression)?.type;
  };
  const calleeName = (call: ts.CallExpression) => (ts.isIdentifier(call.expression) ? call.expression.text : undefined);
  const unreadable = (node: ts.Node, what: string) => inventory.unreadable.push({ service: source.service, what, where: where(node) });

  // Variables initialised by a contract's create(), so `eventMessage(dest, paid)` is read through `const paid = OrderPaid.create(…)`.
  const createdVariables = new Map<string, string>();
  const collect = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      const type = createdType(node.initializer);
      if (type) createdVariables.set(node.name.text, type);
    }
    ts.forEachChild(node, collect);
  };
  collect(file);

  const visit = (node: ts.Node): void => {
    if (ts.isDecorator(node) && ts.isCallExpression(node.expression) && calleeName(node.expression) === 'EventPattern') {
      const [pattern] = node.expression.arguments;
      const type =
        pattern && ts.isStringLiteralLike(pattern)
          ? pattern.text
          : pattern && ts.isPropertyAccessExpression(pattern) && pattern.name.text === 'type'
            ? contractOf(pattern.expression)?.type
            : undefined;
      if (type) inventory.consumed.push({ service: source.service, type, where: where(node) });
      else
        unreadable(
          node,
          `@EventPattern(${pattern?.getText() ?? ''}) names no contract of @conveyor/contracts (messages between services are declared there, on a channel of Channels)`,
        );
    }
    if (ts.isCallExpression(node)) {
      const type = createdType(node);
      if (type) inventory.produced.push({ service: source.service, type, where: where(node) });
      if (calleeName(node) === 'eventMessage') {
        const event = node.arguments[1];
        const made = event && (createdType(event) ?? (ts.isIdentifier(event) ? createdVariables.get(event.text) : undefined));
        if (!made) unreadable(node, `eventMessage(…, ${event?.getText() ?? ''}) is not an event made by the create() of a contract of @conveyor/contracts`);
      }
      if (calleeName(node) === 'addToOutbox') {
        const messages = node.arguments[1];
        const list = messages && ts.isArrayLiteralExpression(messages) ? [...messages.elements] : messages ? [messages] : [];
        for (const message of list) {
          if (!ts.isCallExpression(message) || calleeName(message) !== 'eventMessage')
            unreadable(message, `addToOutbox(…, ${message.getText()}) is not an eventMessage()`);
        }
      }
    }
    // The consumer options of ChassisModule.forRoot: the channels whose schema they register.
    if (ts.isPropertyAssignment(node) && ts.isIdentifier(node.name) && ['kafkaConsumer', 'rabbitmqConsumer'].includes(node.name.text)) {
      const readSchemas = (inner: ts.Node): void => {
        if (ts.isIdentifier(inner) || ts.isPropertyAccessExpression(inner)) {
          for (const channel of schemaExports.get(exportName(inner) ?? '') ?? []) {
            inventory.subscribed.push({ service: source.service, channel: channel.id, where: where(inner) });
          }
        }
        ts.forEachChild(inner, readSchemas);
      };
      readSchemas(node.initializer);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
}

/** Compares the inventory with the channels of libs/contracts. */
export function checkContracts(inventory: Inventory): ContractReport {
  const problems: string[] = [];
  const declared = contracts.Channels.flatMap((c) => c.messages.map((m) => m.type));
  const producedTypes = new Set(inventory.produced.map((p) => p.type));
  const consumedTypes = new Set(inventory.consumed.map((c) => c.type));

  for (const type of new Set(declared)) {
    if (declared.filter((t) => t === type).length > 1) problems.push(`${type} is declared on more than one channel`);
  }
  for (const p of inventory.produced) {
    if (!channelOf(p.type))
      problems.push(`${p.service} produces ${p.type} (${p.where}), which no channel of libs/contracts carries: it has no published schema`);
  }
  for (const c of inventory.consumed) {
    const channel = channelOf(c.type);
    if (!channel) {
      problems.push(`${c.service} handles ${c.type} (${c.where}), which no channel of libs/contracts carries`);
    } else if (!inventory.subscribed.some((s) => s.service === c.service && s.channel === channel.id)) {
      problems.push(`${c.service} handles ${c.type} (${c.where}) but its consumer options do not register ${channel.id}'s schema: the handler is never fed`);
    }
  }
  for (const type of new Set(declared)) {
    if (!producedTypes.has(type)) problems.push(`${type} is declared in libs/contracts but no service produces it: produce it, or remove it`);
  }
  for (const u of inventory.unreadable) problems.push(`${u.service}: ${u.what} (${u.where})`);

  // One orphan per consumed type, named by its first handler.
  const orphans = [...consumedTypes].filter((type) => !producedTypes.has(type)).map((type) => inventory.consumed.find((c) => c.type === type) as Use);
  return { events: new Set(declared).size, produced: producedTypes.size, consumed: consumedTypes.size, orphans, problems };
}
