#!/usr/bin/env bash
# Proves the registry check of `make lint` (node tools/registry.mjs --check)
# bites: on copies of the places it reads, a service missing from the registry,
# a port that disagrees (compose, the chart, deploy/local), a database the
# infra does not create, a scope missing from ESLint's rules, a producer the
# AsyncAPI document does not name and a route no entry covers each fail it;
# --write regenerates deploy/local's lines and adds a new entry's compose
# service and chart stanza, after which it passes. The repo itself passes.
# Nothing of the repo is touched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
PATH="$(tools/ensure-node):$PATH"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check NAME pass|fail TEXT COMMAND..., finish LABEL
. tools/lib/check.sh

# A fresh copy of what the check reads (the service sources too: their folders, tags, ports and routes).
fresh() {
  rm -rf "$tmp/ws" && mkdir -p "$tmp/ws/deploy/local" "$tmp/ws/helm/conveyor/tests/values" "$tmp/ws/docker" "$tmp/ws/libs/contracts/src"
  cp -r services "$tmp/ws/"
  mkdir -p "$tmp/ws/tools" && cp -r tools/eslint "$tmp/ws/tools/"
  cp eslint.config.mjs "$tmp/ws/"
  cp deploy/local/services deploy/local/infra "$tmp/ws/deploy/local/"
  cp docker/compose.yaml "$tmp/ws/docker/"
  cp helm/conveyor/values.yaml "$tmp/ws/helm/conveyor/"
  cp helm/conveyor/tests/values/token-verifiers-off.yaml "$tmp/ws/helm/conveyor/tests/values/"
  cp libs/contracts/src/asyncapi.json "$tmp/ws/libs/contracts/src/"
  ln -s "$root/node_modules" "$tmp/ws/node_modules"
}
registry() { node tools/registry.mjs "$@" --root "$tmp/ws"; }
# One run of the check, several assertions on what it said: `checked` runs it, `said` asserts on that run.
checked() { checked_out=$(registry --check 2>&1) && checked_status=pass || checked_status=fail; }
said() { check "$1" "$2" "$3" eval 'printf "%s\n" "$checked_out"; [ "$checked_status" = pass ]'; } # name, expected (fail|pass), text
edit() { node -e "$1" "$tmp/ws"; } # JavaScript run with the copy's path as process.argv[1]

check "the repo's places agree with services/registry.json" pass 'agree' node tools/registry.mjs --check
fresh
check "an untouched copy passes" pass 'agree' registry --check

# A service missing: its folder stays, its entry goes.
fresh
edit 'const f = process.argv[1] + "/services/registry.json"; const r = require(f); r.services = r.services.filter((s) => s.name !== "search"); require("fs").writeFileSync(f, JSON.stringify(r, null, 2));'
checked
said "a service folder without a registry entry fails" fail 'services/search: a service folder missing from services/registry.json'
said "... and its compose service and chart stanza are named" fail 'docker/compose.yaml: service search is not in services/registry.json'
said "... and deploy/local/services' generated line" fail 'deploy/local/services: SERVICES=('

# A port disagreeing: the registry moves points to 3012, nothing else does.
fresh
sed -i 's/"port": 3002/"port": 3012/' "$tmp/ws/services/registry.json"
checked
said "a port that disagrees fails on compose" fail 'docker/compose.yaml: points: ports [127.0.0.1:3002:3002] differ from the registry'
said "... on the chart" fail 'helm/conveyor/values.yaml: services.points.port 3002 differs from the registry'
said "... on deploy/local/services" fail 'deploy/local/services: SERVICES=('
said "... and on the service's own default" fail 'services/points/src/config.ts: httpServerEnv(3002) differs from the registry'

# The other way round: compose alone changes a port.
fresh
sed -i 's/127.0.0.1:3004:3004/127.0.0.1:3005:3004/' "$tmp/ws/docker/compose.yaml"
check "a port changed in compose alone fails" fail 'docker/compose.yaml: search: ports' registry --check

# deploy/local's generated lines.
fresh
sed -i 's/ conveyor_search)$/)/' "$tmp/ws/deploy/local/infra"
check "a database the infra does not create fails" fail 'deploy/local/infra: POSTGRES_DATABASES=(conveyor conveyor_order conveyor_points conveyor_notification) differs' registry --check
check "--write regenerates it" pass 'wrote deploy/local/infra' registry --write
check "--check passes after --write" pass 'agree' registry --check

# ESLint's scopes come from the registry: a hand-written list that leaves one out fails.
fresh
sed -i "s/^const scopes = .*/const scopes = ['provider-sim', 'order', 'points', 'notification'];/" "$tmp/ws/eslint.config.mjs"
check "an ESLint scope list without a service fails" fail 'eslint.config.mjs: no module-boundary rule for scope:search' registry --check

# Messaging: the registry must name the producers the AsyncAPI document names.
fresh
edit 'const f = process.argv[1] + "/services/registry.json"; const r = require(f); r.services.find((s) => s.name === "points").kafka.consumes = []; require("fs").writeFileSync(f, JSON.stringify(r, null, 2));'
check "a consumer the AsyncAPI document names but the registry does not fails" fail 'consumers of Kafka order.events: [points, search], the registry says [search]' registry --check

# Routes: a controller under no registered route.
fresh
mkdir -p "$tmp/ws/services/search/src/admin"
printf "@Controller('admin')\nexport class AdminHttpController {\n  @Get('stats') stats() {}\n}\n" >"$tmp/ws/services/search/src/admin/admin.http.controller.ts"
check "a controller route under none of the registry's routes fails" fail 'services/search: route /admin/stats is under none' registry --check

# A new entry: --write adds its compose service and chart stanza, regenerates the lines; then only its folder is missing.
fresh
edit 'const f = process.argv[1] + "/services/registry.json"; const r = require(f);
  r.services.push({ name: "ledger", port: 3200, database: "conveyor_ledger", uses: ["postgresql", "rabbitmq"], calls: {}, public: false, auth: true,
    kafka: { produces: [], consumes: [] }, rabbitmq: { publishes: [], consumes: [{ queue: "ledger.commands", exchange: "ledger.exchange" }] }, routes: [] });
  require("fs").writeFileSync(f, JSON.stringify(r, null, 2));'
check "a new entry without its places fails" fail 'docker/compose.yaml: ledger: missing' registry --check
check "--write adds them (and still reports what it cannot make)" fail 'wrote docker/compose.yaml' registry --write
check "... its compose service and one-shot" pass '' grep -q '^  ledger-migrate:$' "$tmp/ws/docker/compose.yaml"
check "... its chart stanza" pass '' grep -q '^    database: conveyor_ledger$' "$tmp/ws/helm/conveyor/values.yaml"
check "... its database and start entry" pass '' grep -q 'ledger:3200:conveyor_ledger)$' "$tmp/ws/deploy/local/services"
checked
said "after --write, what is left is the missing folder" fail 'services/registry.json: ledger has no folder services/ledger'
check "... and nothing else" pass '' test "$(grep -c '^  ' <<<"$checked_out")" -eq 1

finish registry
