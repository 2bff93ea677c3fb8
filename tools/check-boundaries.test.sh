#!/usr/bin/env bash
# Proves the module-boundary lint rule bites: an import from one service into
# another, or from a lib into a service, fails lint; a service importing a
# shared lib passes. Writes throwaway probe files, lints them, removes them.
set -euo pipefail
cd "$(dirname "$0")/.."

probe=services/zz-boundary-probe
files=("$probe" services/provider-sim/src/zz-boundary-probe.ts libs/config/src/zz-boundary-probe.ts)
cleanup() { rm -rf "${files[@]}"; }
trap cleanup EXIT

# A second service, tagged like the order service will be.
mkdir -p "$probe/src"
cat >"$probe/project.json" <<'JSON'
{ "name": "zz-boundary-probe", "projectType": "application", "sourceRoot": "services/zz-boundary-probe/src",
  "tags": ["scope:order", "type:app"], "targets": {} }
JSON
echo 'export const orderSecret = 42;' >"$probe/src/index.ts"
echo "import { orderSecret } from '../../zz-boundary-probe/src/index';
export const leaked = orderSecret;" >services/provider-sim/src/zz-boundary-probe.ts

passed=0 failed=0
check() { # name, expected (fail|pass), file
  local out status
  out=$(npx eslint --no-warn-ignored "$3" 2>&1) && status=pass || status=fail
  if [ "$status" = "$2" ] && { [ "$2" = pass ] || grep -q 'enforce-module-boundaries' <<<"$out"; }; then
    echo "ok - $1"; passed=$((passed + 1))
  else
    echo "not ok - $1 (lint: $status)"; echo "$out" | sed 's/^/    /'; failed=$((failed + 1))
  fi
}

# The rule reads Nx's project graph; rebuild it after each change of probes.
refresh_graph() {
  NX_DAEMON=false npx nx reset --only-workspace-data >/dev/null 2>&1 || true
  NX_DAEMON=false npx nx show projects >/dev/null
}

refresh_graph
check "a service importing another service fails lint" fail services/provider-sim/src/zz-boundary-probe.ts
check "a service importing a shared lib passes lint" pass services/provider-sim/src/config.ts

echo "import { SERVICE_NAME } from '../../../services/provider-sim/src/config';
export const leaked = SERVICE_NAME;" >libs/config/src/zz-boundary-probe.ts
refresh_graph
check "a lib importing a service fails lint" fail libs/config/src/zz-boundary-probe.ts

cleanup
NX_DAEMON=false npx nx reset --only-workspace-data >/dev/null 2>&1 || true
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
