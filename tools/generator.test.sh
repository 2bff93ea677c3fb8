#!/usr/bin/env bash
# Proves `nx g @conveyor/nx-plugin:service`: in a throw-away copy of the
# workspace (tracked files plus the working tree's changes; node_modules and
# .cache linked, the infra's env copied), generates a service with a database,
# an outbox and a Kafka consumer, then runs that service's lint, typecheck and
# tests (real PostgreSQL and brokers), renders its Helm stanza, starts it with deploy/local/services on a
# free port and a run dir of its own (a developer's running services are never
# touched), checks /health/ready, stops it and removes the copy. Also: the
# registry check and the structure check pass on the copy with the new service.
# Ends with `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
root=$PWD
PATH="$(tools/ensure-node):$PATH"
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false SWC_NODE_PROJECT=tsconfig.base.json
started=$SECONDS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-generator-test.XXXXXX")
ws=$tmp/workspace
suffix=$(node -p 'Date.now().toString(36) + require("node:crypto").randomBytes(2).toString("hex")')
name=gen-probe
topic=generator_test.$suffix
db=t_generator_$suffix
port=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
env_prefix=GEN_PROBE

# The servers' ports and URLs, as the infra wrote them.
set -a
# shellcheck disable=SC1091
[ ! -f .run/infra/env ] || . .run/infra/env
set +a

cleanup() {
  [ ! -d "$ws" ] || CONVEYOR_SERVICES_DIR=$tmp/services "$ws/deploy/local/services" down "$name" >/dev/null 2>&1
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const { Client } = require("pg");
    const e = process.env;
    const c = new Client({ host: e.POSTGRES_HOST || "127.0.0.1", port: Number(e.POSTGRES_PORT || 5432), user: e.POSTGRES_USER || "conveyor",
      password: e.POSTGRES_PASSWORD || "conveyor", database: "postgres" });
    c.connect().then(() => c.query(`DROP DATABASE IF EXISTS "${process.argv[1]}" WITH (FORCE)`)).finally(() => c.end()).catch(() => undefined);
  ' "$db"
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
check() { # description, then a command that must succeed (its output is shown only when it fails)
  local what=$1 out; shift
  if out=$("$@" 2>&1); then
    echo "ok - $what"; passed=$((passed + 1))
  else
    echo "not ok - $what"; echo "$out" | tail -40 | sed 's/^/#   /'; failed=$((failed + 1))
  fi
}
in_copy() { (cd "$ws" && "$@"); }

copy_workspace() {
  mkdir -p "$ws/.run/infra"
  # Tracked and new files as they are in the working tree (deleted ones left out);
  # the links to the shared node_modules/.cache/.run are not the project's files.
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && [ ! -L "$f" ] && printf '%s\0' "$f"; done |
    tar -c --null -T - | tar -x -C "$ws"
  ln -s "$(cd node_modules && pwd -P)" "$ws/node_modules"
  [ ! -e .cache ] || ln -s "$(cd .cache && pwd -P)" "$ws/.cache"
  [ ! -f .run/infra/env ] || cp .run/infra/env "$ws/.run/infra/env"
  [ -f "$ws/libs/nx-plugin/generators.json" ]
}
check "the workspace is copied ($(git ls-files | wc -l | tr -d ' ') tracked files)" copy_workspace

generate() {
  in_copy npx nx g @conveyor/nx-plugin:service "$name" --port "$port" --database --outbox --kafkaConsumer "$topic" --no-interactive &&
    in_copy test -f "services/$name/src/main.ts" -a -f "docs/$name-service.md"
}
check "nx g @conveyor/nx-plugin:service $name --port $port --database --outbox --kafkaConsumer <topic> exits 0" generate

registered() {
  in_copy grep -q "\"name\": \"$name\"" services/registry.json &&
    in_copy grep -q "SERVICES=(.* $name:$port:conveyor_gen_probe)" deploy/local/services &&
    in_copy grep -q "\"scope:$name\", \"type:app\"" "services/$name/project.json" &&
    in_copy node tools/registry.mjs --check
}
check "it joins services/registry.json, deploy/local/services, compose, the chart and ESLint's scopes agree with it (tools/registry.mjs --check)" registered
check "it is written in the feature dialect (tools/check-structure.mjs $name)" in_copy node tools/check-structure.mjs "$name"
check "its docs page's environment table is generated and current (tools/env-docs.mjs --check)" in_copy node tools/env-docs.mjs --check
# The chart's stanza renders: helm is built by the deployment checks (tools/deploy.test.sh, before this in make test).
chart_renders() {
  local helm=$root/.cache/deploy-tools/bin/helm out
  [ -x "$helm" ] || { echo "no $helm: deploy/tools/install builds it (tools/deploy.test.sh runs it)"; return 1; }
  # A generated service verifies tokens like order: the chart needs a JWKS source to render it (an IdP URL is enough here).
  out=$("$helm" template probe "$ws/helm/conveyor" --set auth.jwksUrl=https://id.example.com/.well-known/jwks.json) || return 1
  grep -q "kind: Deployment" <<<"$out" && grep -q "app.kubernetes.io/name: $name\$" <<<"$out" && grep -q "app.kubernetes.io/name: $name-migrations\$" <<<"$out"
}
check "its Helm values stanza renders a Deployment and a migrations Job (helm template)" chart_renders
compose_has_it() {
  in_copy grep -q "^  $name:\$" docker/compose.yaml && in_copy grep -q "^  $name-migrate:\$" docker/compose.yaml &&
    in_copy node deploy/check/compose.mjs docker/compose.yaml
}
check "it joins docker/compose.yaml with its migrations one-shot, and the compose checks pass" compose_has_it
check "its main.ts is at most 15 lines" test "$(wc -l <"$ws/services/$name/src/main.ts")" -le 15
check "the generated files are formatted (prettier --check)" in_copy npx prettier --check "services/$name" services/registry.json docker/compose.yaml helm/conveyor "docs/$name-service.md"
check "nx run $name:lint passes with zero warnings" in_copy npx nx run "$name:lint" --outputStyle=static --skip-nx-cache
check "nx run $name:typecheck passes" in_copy npx nx run "$name:typecheck" --outputStyle=static --skip-nx-cache

own_tests() {
  in_copy npx nx run "$name:test" --outputStyle=static --skip-nx-cache || return 1
  # Its unit spec and its integration spec both ran, and nothing failed.
  # shellcheck disable=SC2016 # JavaScript, not shell
  node -e '
    const r = require(process.argv[1]);
    const files = r.testResults.map((t) => t.name.replace(/.*\/services\//, "services/"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed in ${files.join(", ")}`);
    process.exit(r.numFailedTests === 0 && r.numPassedTests > 0 && files.some((f) => f.endsWith(".int-spec.ts")) && files.some((f) => /src\/.*\.spec\.ts$/.test(f)) ? 0 : 1);
  ' "$ws/.run/test-results/$name.json"
}
check "nx run $name:test passes: its unit and integration specs, on the real servers" own_tests

start_with_services() {
  # Its database, topics and consumer group are this run's own (the database is created by the script).
  CONVEYOR_SERVICES_DIR=$tmp/services env "${env_prefix}_PORT=$port" POSTGRES_DB="$db" "${env_prefix}_EVENTS_TOPIC=$topic.events" \
    KAFKA_CONSUMER_GROUP="generator_test_$suffix" OTEL_SDK_DISABLED=true "$ws/deploy/local/services" up "$name"
}
check "deploy/local/services up $name starts it (port $port, run dir in the copy)" start_with_services
check "its /health/ready answers 200" curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/health/ready"
example_answers() {
  # Born with auth: a token signed with the copy's local key (deploy/local/services made it at start).
  local token
  token=$(node "$ws/deploy/local/keys.mjs" token --user generator-test) || return 1
  curl -fsS --max-time 5 -H 'content-type: application/json' -H "Authorization: Bearer $token" -d '{"name":"from the generator test"}' "http://127.0.0.1:$port/examples" |
    grep -q '"name":"from the generator test"'
}
check "its example endpoint answers POST /examples with a token from deploy/local/keys.mjs" example_answers

stopped() {
  CONVEYOR_SERVICES_DIR=$tmp/services env "${env_prefix}_PORT=$port" "$ws/deploy/local/services" down "$name" &&
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}
check "deploy/local/services down $name stops it and frees its port" stopped

echo "# generator test took $((SECONDS - started)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
