// What tools/registry.mjs and tools/check-structure.mjs share: the workspace's
// TypeScript loaded through @swc-node/register (the logic lives in
// libs/nx-plugin, shared with the service generator), and a read-only view of
// a tree (the repo, or the tree `--root` names) in the shape that logic reads.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The repository this file belongs to. */
export const here = path.resolve(import.meta.dirname, '../..');

/** Loads a TypeScript module of the workspace (path relative to its root). */
export function loadTs(file) {
  process.env.SWC_NODE_PROJECT ??= path.join(here, 'tsconfig.base.json');
  const require = createRequire(path.join(here, 'package.json'));
  require('@swc-node/register');
  return require(path.join(here, file));
}

/** read (undefined when missing), children (sorted names) and isFile, relative to `root`. */
export function treeFiles(root) {
  return {
    read: (file) => (existsSync(path.join(root, file)) ? readFileSync(path.join(root, file), 'utf8') : undefined),
    children: (dir) => (existsSync(path.join(root, dir)) && statSync(path.join(root, dir)).isDirectory() ? readdirSync(path.join(root, dir)).sort() : []),
    isFile: (file) => existsSync(path.join(root, file)) && statSync(path.join(root, file)).isFile(),
  };
}
