#!/usr/bin/env bash
# Proves the project-tags lint rule bites: a project.json without tags, with
# two type tags, or with a scope the boundary rules do not know fails lint
# (and `nx run <project>:lint` with it); every project of the repo passes.
# Writes a throwaway probe project, lints it, removes it.
set -euo pipefail
cd "$(dirname "$0")/.."

probe=services/zz-tags-probe
cleanup() { rm -rf "$probe"; NX_DAEMON=false npx nx reset --only-workspace-data >/dev/null 2>&1 || true; }
trap cleanup EXIT
mkdir -p "$probe/src"
echo 'export const probe = 1;' >"$probe/src/index.ts"

passed=0 failed=0
check() { # name, expected (fail|pass), then the command
  local what=$1 expected=$2 out status; shift 2
  out=$("$@" 2>&1) && status=pass || status=fail
  if [ "$status" = "$expected" ] && { [ "$expected" = pass ] || grep -q 'conveyor/project-tags' <<<"$out"; }; then
    echo "ok - $what"; passed=$((passed + 1))
  else
    echo "not ok - $what (lint: $status)"; echo "$out" | tail -20 | sed 's/^/    /'; failed=$((failed + 1))
  fi
}
project() { # tags as a JSON array
  printf '{ "name": "zz-tags-probe", "projectType": "application", "sourceRoot": "%s/src", "tags": %s, "targets": {} }\n' "$probe" "$1" >"$probe/project.json"
}
lint() { npx eslint --no-warn-ignored "$probe/project.json"; }

printf '{ "name": "zz-tags-probe", "projectType": "application", "sourceRoot": "%s/src", "targets": {} }\n' "$probe" >"$probe/project.json"
check "a project.json without tags fails lint" fail lint
# The rule is part of the project's own lint target, which `make lint` runs for every project.
NX_DAEMON=false npx nx reset --only-workspace-data >/dev/null 2>&1 || true
check "nx run <project>:lint fails for a project without tags" fail env NX_DAEMON=false npx nx run zz-tags-probe:lint --outputStyle=static --skip-nx-cache
project '[]'
check "a project.json with an empty tags list fails lint" fail lint
project '["scope:order", "type:app", "type:util"]'
check "a project with two type tags fails lint" fail lint
project '["scope:nobody", "type:app"]'
check "a project with a scope the boundary rules do not know fails lint" fail lint
project '["scope:order", "type:app"]'
check "a project with one known scope and one known type passes lint" pass lint
check "every project.json of the repo passes the rule" pass npx eslint --no-warn-ignored libs/*/project.json services/*/project.json

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
