#!/usr/bin/env bash
# Proves the docs checks of `make lint` (make docs-check) bite: the link check
# fails on a missing file and on a missing anchor, and ignores code; the env
# table check fails when a schema's default changes or a page has no generated
# block, and `make docs` (env-docs --write) makes it pass again. The repo's
# own docs pass both. The env cases run on a copy of the workspace's sources
# in a temporary folder, so nothing of the repo is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME pass|fail TEXT COMMAND..., finish LABEL
. tools/lib/check.sh

# Links.
check "every relative link of README.md and docs/ resolves" pass 'all resolve' node tools/check-doc-links.mjs
mkdir -p "$tmp/links/sub"
printf '# Page\n\n## A `code` heading — with (punctuation)\n' >"$tmp/links/sub/page.md"
printf '[ok](sub/page.md#a-code-heading--with-punctuation)\n' >"$tmp/links/good.md"
printf '[gone](sub/missing.md)\n' >"$tmp/links/missing-file.md"
printf '[gone](sub/page.md#no-such-heading)\n' >"$tmp/links/missing-anchor.md"
printf 'Inline `[x](nowhere.md)` and\n\n```\n[y](nowhere.md)\n```\n' >"$tmp/links/code.md"
check "a link to a heading by its GitHub anchor passes" pass '' node tools/check-doc-links.mjs "$tmp/links/good.md"
check "a link to a missing file fails" fail 'sub/missing.md: no such file or folder' node tools/check-doc-links.mjs "$tmp/links/missing-file.md"
check "a link to a missing anchor fails" fail 'no heading with anchor #no-such-heading' node tools/check-doc-links.mjs "$tmp/links/missing-anchor.md"
check "links inside code are not checked" pass '' node tools/check-doc-links.mjs "$tmp/links/code.md"

# Env tables, on a copy.
check "every env table of the repo matches its schema" pass 'every environment table matches' node tools/env-docs.mjs --check
work=$tmp/work
mkdir -p "$work"
cp -r libs services docs tools package.json tsconfig.base.json "$work/"
ln -s "$root/node_modules" "$work/node_modules"
config=$work/services/provider-sim/src/config.ts
grep -q 'httpServerEnv(3100)' "$config"
sed -i 's/httpServerEnv(3100)/httpServerEnv(3999)/' "$config"
check "a changed default fails --check" fail 'docs/provider-sim.md: the environment table differs' node "$work/tools/env-docs.mjs" --check
check "make docs (--write) rewrites the table" pass 'wrote docs/provider-sim.md' node "$work/tools/env-docs.mjs" --write
check "--check passes after --write" pass '' node "$work/tools/env-docs.mjs" --check
check "the new default is in the table" pass '' grep -q '^| `PORT` | integer 0–65535 | 3999 |' "$work/docs/provider-sim.md"
page=$work/docs/provider-sim.md
awk '/<!-- env:begin -->/ { print "| variable | default | meaning |"; print "|---|---|---|"; print "| `PORT` | 3100 | hand-written |"; skip = 1; next } /<!-- env:end -->/ { skip = 0; next } !skip' "$page" >"$page.new" && mv "$page.new" "$page"
check "a page without the generated block fails --check" fail 'no <!-- env:begin --> … <!-- env:end --> block' node "$work/tools/env-docs.mjs" --check
check "--write turns its Environment table into the generated block" pass 'wrote docs/provider-sim.md' node "$work/tools/env-docs.mjs" --write
check "--check passes after adopting it" pass '' node "$work/tools/env-docs.mjs" --check

finish docs-check
