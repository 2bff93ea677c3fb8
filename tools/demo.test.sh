#!/usr/bin/env bash
# Proves the README's `make demo` and `make down`: on a throw-away run dir and
# free ports (so servers a developer has running are never touched), `make
# demo` brings every server and service up, runs its short scenario and prints
# the summary and URLs that answer, and
# `make down` leaves no process of ours running, as `infra status` then says.
# Ends with `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-demo-test.XXXXXX")
chmod 755 "$tmp" # the postgres user must be able to walk into it
export CONVEYOR_INFRA_DIR=$tmp/infra CONVEYOR_SERVICES_DIR=$tmp/services

# One free loopback port per variable (asked of the OS, so none is taken).
ports=$(node -e '
  const net = require("node:net");
  const names = process.argv.slice(1);
  Promise.all(names.map(() => new Promise((res) => { const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); }); })))
    .then((ps) => console.log(names.map((n, i) => `${n}=${ps[i]}`).join(" ")));
' POSTGRES_PORT POSTGRES_REPLICA_PORT REDIS_PORT RABBITMQ_PORT RABBITMQ_MANAGEMENT_PORT RABBITMQ_DIST_PORT ERL_EPMD_PORT KAFKA_PORT \
  KAFKA_CONTROLLER_PORT JAEGER_OTLP_GRPC_PORT JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT PROVIDER_SIM_PORT ORDER_PORT POINTS_PORT NOTIFICATION_PORT SEARCH_PORT)
# shellcheck disable=SC2163,SC2086
export $ports
export RABBITMQ_NODENAME="demotest$$@localhost"

cleanup() { make --no-print-directory down >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT

passed=0 failed=0
check() { # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then echo "ok - $what"; passed=$((passed + 1)); else echo "not ok - $what"; failed=$((failed + 1)); fi
}
answers() { curl -fsS -o /dev/null --max-time 5 "$1"; }

out=$(make --no-print-directory demo 2>&1); rc=$?
check "make demo exits 0" test "$rc" -eq 0 || echo "$out" | tail -30 | sed 's/^/#   /'
check "make demo prints the provider-sim, Jaeger and RabbitMQ URLs" \
  grep -q "http://127.0.0.1:$PROVIDER_SIM_PORT/health/ready" <<<"$out"
grep -q "http://127.0.0.1:$JAEGER_QUERY_PORT" <<<"$out" && grep -q "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT" <<<"$out" \
  || { echo "not ok - URLs missing from:"; echo "$out" | tail -12; failed=$((failed + 1)); }
check "provider-sim answers ready" answers "http://127.0.0.1:$PROVIDER_SIM_PORT/health/ready"
order_up() { answers "http://127.0.0.1:$ORDER_PORT/health/ready" && answers "http://127.0.0.1:$ORDER_PORT/products"; }
check "order answers ready (its database, Redis) and lists products" order_up
check "points, notification and search answer ready" \
  eval 'answers "http://127.0.0.1:$POINTS_PORT/health/ready" && answers "http://127.0.0.1:$NOTIFICATION_PORT/health/ready" && answers "http://127.0.0.1:$SEARCH_PORT/health/ready"'
summary() { # the scenario's summary: every line the README promises, and an endpoint of each service
  local line
  for line in '^orders placed: [1-9]' '^reconciled: ' '^breaker transitions: ' '^points awarded: ' '^notifications: ' \
    '^place an order ' '^search ' '^complete a lesson ' '^request a code \(SMS\) '; do
    grep -Eq "$line" <<<"$out" || { echo "#   no line matching /$line/ in make demo's output"; return 1; }
  done
}
check "make demo prints the scenario's summary: orders by status, reconciled, breaker transitions, points, notifications, p50/p95/p99 per endpoint" summary
sed -n '/^summary$/,/^Conveyor is up:/p' <<<"$out" | sed '$d; s/^/#   /'
status_of() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "without a token, the orders API answers 401" test "$(status_of "http://127.0.0.1:$ORDER_PORT/orders")" = 401
token=$(make --no-print-directory -s token USER=demo-user 2>/dev/null)
check "with a token from make token, the orders API answers 200" \
  test "$(status_of -H "Authorization: Bearer $token" "http://127.0.0.1:$ORDER_PORT/orders")" = 200
# Lesson completions come from the lessons service's identity (client credentials, scope points:activities), never from a user.
lessons=$(make --no-print-directory -s token CLIENT=lessons SCOPE=points:activities 2>/dev/null)
learner="demo-learner-$$"
complete_lesson() { # the bearer token to report with
  status_of -X POST -H 'content-type: application/json' -H "Authorization: Bearer $1" -d "{\"userId\":\"$learner\"}" \
    "http://127.0.0.1:$POINTS_PORT/activities/demo-lesson-1/completions"
}
check "a user's own token cannot report a lesson completion (403)" test "$(complete_lesson "$token")" = 403
check "the lessons service's token (make token CLIENT=lessons SCOPE=points:activities) can, once per user and lesson: 201, then 200" \
  eval '[ "$(complete_lesson "$lessons")" = 201 ] && [ "$(complete_lesson "$lessons")" = 200 ]'
check "Jaeger's query API answers" answers "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services"
check "RabbitMQ's management API answers" curl -fsS -o /dev/null --max-time 5 -u conveyor:conveyor \
  "http://127.0.0.1:$RABBITMQ_MANAGEMENT_PORT/api/overview"
check "infra status shows all six up (the five servers and the PostgreSQL replica)" test "$(deploy/local/infra status | grep -cw up)" -eq 6

make --no-print-directory down >/dev/null 2>&1
# (pgbouncer, started only when asked, has a row of its own: down too.)
check "after make down, infra status shows all six down" test "$(deploy/local/infra status | grep -vw '^pgbouncer' | grep -cw down)" -eq 6
check "after make down, services status shows every service stopped" \
  test "$(deploy/local/services status | grep -cw stopped)" -eq "$(($(deploy/local/services status | wc -l) - 1))"
nothing_left() {
  # Every server's command line names its run dir; each service holds its port.
  ! pgrep -f "$tmp" >/dev/null || return 1
  local port
  for port in "$PROVIDER_SIM_PORT" "$ORDER_PORT" "$POINTS_PORT" "$NOTIFICATION_PORT" "$SEARCH_PORT"; do
    ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || return 1
  done
}
check "after make down, no process of ours is left" nothing_left

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
