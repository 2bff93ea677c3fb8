/**
 * Writes judged-queries.json from the generator (run once when the generator
 * changes, then review the diff and check it in):
 *   node -r @swc-node/register services/search/test/relevance/write-judged-set.ts
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateCatalog, judgeQueries } from './catalog';

const SEED = 20_261_130;
const PRODUCTS = 2_000;
const QUERIES = 70;

const queries = judgeQueries([...generateCatalog(SEED, PRODUCTS)], QUERIES);
writeFileSync(join(__dirname, 'judged-queries.json'), `${JSON.stringify({ seed: SEED, products: PRODUCTS, queries }, null, 2)}\n`);
console.log(`${queries.length} judged queries over ${PRODUCTS} products (seed ${SEED})`);
