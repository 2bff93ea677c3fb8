// `make contracts`: reads which services produce and consume which messages
// (test/contracts/inventory.ts), compares that with libs/contracts, builds the
// AsyncAPI document from both, validates it (and each service's part of it)
// with @asyncapi/parser and compares it with the committed
// libs/contracts/src/asyncapi.json. Prints the inventory, every problem, and
// as its last line
//   contracts: events=N produced=N consumed=N orphans=N asyncapi=ok|stale|invalid
// Exits 1 unless there is no orphan, no problem and the document is ok.
// `--write` (make contracts WRITE=1) rewrites the document first.
import { Channels, serviceAsyncApi } from '@conveyor/contracts';
import { Parser } from '@asyncapi/parser';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import prettier from 'prettier';
import { buildAsyncApiDocument } from './asyncapi-document';
import { checkContracts, readServiceSources, scanSources, type Inventory } from './inventory';

const root = path.resolve(__dirname, '..', '..');
const documentFile = path.join(root, 'libs', 'contracts', 'src', 'asyncapi.json');

/** The document as committed: JSON formatted the way `make lint` (Prettier) wants it. */
async function documentText(document: object): Promise<string> {
  const options = (await prettier.resolveConfig(documentFile)) ?? {};
  return prettier.format(JSON.stringify(document), { ...options, filepath: documentFile });
}

/** Parser errors of a document (warnings are style advice of the AsyncAPI ruleset, printed, not failed on). */
async function validate(name: string, document: object): Promise<{ errors: string[]; warnings: number }> {
  const { diagnostics } = await new Parser().parse(JSON.stringify(document));
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${name}: ${d.message} at /${d.path.join('/')}`);
  return { errors, warnings: diagnostics.filter((d) => d.severity === 1).length };
}

function printInventory(inventory: Inventory): void {
  for (const channel of Channels) {
    const address = channel.broker === 'kafka' ? `kafka ${channel.topic}` : `rabbitmq ${channel.exchange} ${channel.routingKey}`;
    console.log(`${channel.id} (${address})`);
    for (const contract of channel.messages) {
      const by = (uses: Inventory['produced']) => [...new Set(uses.filter((u) => u.type === contract.type).map((u) => u.service))].sort().join(', ') || '-';
      console.log(`  ${contract.type.padEnd(20)} produced by ${by(inventory.produced).padEnd(22)} consumed by ${by(inventory.consumed)}`);
    }
  }
}

async function main(): Promise<number> {
  const inventory = scanSources(readServiceSources(root));
  const report = checkContracts(inventory);
  printInventory(inventory);

  const document = buildAsyncApiDocument(inventory);
  const text = await documentText(document);
  if (process.argv.includes('--write')) {
    writeFileSync(documentFile, text);
    console.log(`wrote ${path.relative(root, documentFile)}`);
  }
  const services = [...new Set([...inventory.produced, ...inventory.consumed].map((u) => u.service))].sort();
  const checks = await Promise.all([
    validate('asyncapi.json', document),
    ...services.map((s) => validate(`${s} /asyncapi.json`, serviceAsyncApi(s, document))),
  ]);
  const errors = checks.flatMap((c) => c.errors);
  const committed = readFileSync(documentFile, 'utf8');
  const asyncapi = errors.length > 0 ? 'invalid' : committed !== text ? 'stale' : 'ok';

  for (const orphan of report.orphans) {
    console.log(`ORPHAN: ${orphan.service} consumes ${orphan.type} (${orphan.where}), which no service produces: the handler never runs`);
  }
  for (const problem of report.problems) console.log(`PROBLEM: ${problem}`);
  for (const error of errors) console.log(`ASYNCAPI: ${error}`);
  if (asyncapi === 'stale')
    console.log(`ASYNCAPI: ${path.relative(root, documentFile)} is not what the contracts and the code give: run make contracts WRITE=1 and commit it`);
  const warnings = checks.reduce((n, c) => n + c.warnings, 0);
  if (warnings > 0) console.log(`(${warnings} style warnings of the AsyncAPI ruleset, not failed on)`);
  console.log(
    `contracts: events=${report.events} produced=${report.produced} consumed=${report.consumed} orphans=${report.orphans.length} asyncapi=${asyncapi}`,
  );
  return report.orphans.length === 0 && report.problems.length === 0 && asyncapi === 'ok' ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
