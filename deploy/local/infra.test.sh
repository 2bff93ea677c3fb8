#!/usr/bin/env bash
# Tests for deploy/local/infra.
#
# They run against a throw-away run dir (CONVEYOR_INFRA_DIR in a mktemp dir)
# and free, non-default ports, so servers a developer has running on the
# defaults are never touched. Redis and PostgreSQL are used for the full
# lifecycle because they start in about a second; the other servers are only
# driven as far as their pre-flight checks.
#
# Prints one `ok - …` / `not ok - …` line per test and ends with
# `N passed, M failed`; exits non-zero if anything failed.

set -uo pipefail   # no -e: a failing check must not end the run

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
INFRA=$HERE/infra

TMP=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-infra-test.XXXXXX")
# mktemp makes it 0700; the postgres user must be able to walk into it.
chmod 755 "$TMP"
export CONVEYOR_INFRA_DIR=$TMP/run
RUN=$CONVEYOR_INFRA_DIR
mkdir -p "$RUN"

# --- ports -------------------------------------------------------------------

listening() { # <port>: is anything listening on it (any address)?
  local hex f; hex=$(printf '%04X' "$1")
  for f in /proc/net/tcp /proc/net/tcp6; do
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' "$f" 2>/dev/null && return 0
  done
  return 1
}
# Ports are picked once, here, and some are bound only minutes later (jaeger
# comes late). Picked inside the kernel's ephemeral range, a port can be taken
# meanwhile as the local end of any outgoing connection, and the server then
# fails to bind it ("address already in use"). Below that range only a
# listener can hold a port, and `listening` sees listeners. 30000 and up is
# left to NodePorts; the defaults of deploy/local/infra are never picked, so a
# developer's servers can still start on them while this runs.
read -r EPHEMERAL_LOW _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || EPHEMERAL_LOW=32768
PORTS_TO=$(( EPHEMERAL_LOW < 30000 ? EPHEMERAL_LOW : 30000 ))
PORTS_FROM=$(( PORTS_TO > 11024 ? PORTS_TO - 10000 : 1024 ))
(( PORTS_TO - PORTS_FROM >= 100 )) || { echo "infra.test: the ephemeral port range starts at $EPHEMERAL_LOW, leaving no room below it for the test's ports" >&2; exit 1; }
USED_PORTS=" 4317 4318 4369 5432 5433 5672 6379 6432 9092 9093 15672 16685 16686 25672 "
free_port() {
  local p
  while :; do
    p=$(( PORTS_FROM + RANDOM % (PORTS_TO - PORTS_FROM) ))
    [[ $USED_PORTS == *" $p "* ]] && continue
    listening "$p" && continue
    USED_PORTS+="$p "; echo "$p"; return
  done
}
for v in POSTGRES_PORT POSTGRES_REPLICA_PORT REDIS_PORT RABBITMQ_PORT RABBITMQ_MANAGEMENT_PORT RABBITMQ_DIST_PORT \
         ERL_EPMD_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT JAEGER_OTLP_GRPC_PORT \
         JAEGER_OTLP_HTTP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT PGBOUNCER_PORT; do
  p=$(free_port); export "$v=$p"
done
export RABBITMQ_NODENAME="infratest$$@localhost"

# Holds a TCP port open, like a foreign server would. perl is Essential on
# Debian, so unlike nc or python it is always there.
BLOCKERS=()
occupy() { # <port>
  perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                                  Listen => 5, ReuseAddr => 1) or die "listen: $!";
    sleep 300;' "$1" &
  BLOCKERS+=($!)
  local _i; for _i in $(seq 50); do listening "$1" && return 0; sleep 0.1; done
  echo "could not occupy port $1" >&2; return 1
}
release_all() { local b; for b in "${BLOCKERS[@]}"; do kill "$b" 2>/dev/null; wait "$b" 2>/dev/null; done; BLOCKERS=(); }

cleanup() {
  release_all
  "$INFRA" down >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- helpers -------------------------------------------------------------------

PASSED=0 FAILED=0
ok()     { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $1"; shift; local l; for l in "$@"; do echo "#   $l"; done; }

OUT='' RC=0
run() { OUT=$("$@" 2>&1); RC=$?; }

# Processes of this test's run dir: by command line (what pgrep sees) and by
# the environment marker infra puts on everything it launches.
leftovers() { # [subdir]
  local path=$RUN${1:+/$1} p
  pgrep -f "$path" 2>/dev/null
  for p in /proc/[0-9]*; do
    tr '\0' '\n' 2>/dev/null < "$p/environ" | grep -qx "CONVEYOR_INFRA_DIR=$RUN" || continue
    tr '\0' '\n' 2>/dev/null < "$p/environ" | grep -q "^CONVEYOR_INFRA_SERVER=${1:-}" && echo "${p#/proc/}"
  done
}
no_leftovers() { [[ -z $(leftovers "${1:-}") ]]; }

# A PATH that has everything the current one has, except <cmd…>.
path_without() { # <dir to create> <cmd…>
  local dir=$1 d f n; shift
  mkdir -p "$dir"
  local IFS=:
  for d in $PATH; do
    [[ -d $d ]] || continue
    for f in "$d"/*; do
      n=${f##*/}
      [[ -x $f && ! -e $dir/$n ]] || continue
      [[ " $* " == *" $n "* ]] && continue
      ln -s "$f" "$dir/$n"
    done
  done
  echo "$dir"
}

# --- 1. a port taken by someone else --------------------------------------------

occupy "$REDIS_PORT"
run "$INFRA" up redis
if (( RC != 0 )) && [[ $OUT == *"port $REDIS_PORT"* ]] && no_leftovers redis; then
  ok "up redis fails when REDIS_PORT is taken, names the port, starts nothing"
else
  not_ok "up redis fails when REDIS_PORT is taken, names the port, starts nothing" "rc=$RC" "$OUT"
fi
release_all

# --- 2. java missing ----------------------------------------------------------------

NOJAVA=$(path_without "$TMP/path-nojava" java)
OUT=$(env -u JAVA_HOME PATH="$NOJAVA" "$INFRA" up kafka 2>&1); RC=$?
if (( RC != 0 )) && [[ $OUT == *java* ]] && no_leftovers; then
  ok "up kafka without java fails naming java, starts nothing"
else
  not_ok "up kafka without java fails naming java, starts nothing" "rc=$RC" "$OUT"
fi

# Kafka's storage tool reads `-t -abc…` as an option and refuses to format, so a
# fresh broker failed to start whenever the random cluster id began with '-'
# (1 in 64). The generator, taken from the script, asked 1,000 times (a '-'
# first in none of them by chance: about 1 in 10^7).
# shellcheck source=/dev/null
source <(sed -n '/^new_kafka_cluster_id() {$/,/^}$/p' "$INFRA")
BAD_IDS=$(for _ in $(seq 1000); do new_kafka_cluster_id; done | grep -cvE '^[A-Za-z0-9_][A-Za-z0-9_-]{21}$')
if [[ $(type -t new_kafka_cluster_id) == function && $BAD_IDS == 0 ]]; then
  ok "kafka cluster ids are 22 URL-safe characters and never start with '-' (1,000 drawn)"
else
  not_ok "kafka cluster ids are 22 URL-safe characters and never start with '-' (1,000 drawn)" "bad: $BAD_IDS"
fi

# --- 3. go missing and no cached jaeger binary ---------------------------------------

NOGO=$(path_without "$TMP/path-nogo" go)
OUT=$(PATH="$NOGO" CONVEYOR_CACHE_DIR="$TMP/empty-cache" "$INFRA" up jaeger 2>&1); RC=$?
if (( RC != 0 )) && [[ $OUT == *"'go'"* ]] && no_leftovers; then
  ok "up jaeger without go and without a cached binary fails naming go"
else
  not_ok "up jaeger without go and without a cached binary fails naming go" "rc=$RC" "$OUT"
fi

# --- 4. up → status → up again (no-op) → down → status --------------------------------

status_of() { awk -v n="$1" '$1 == n { print $NF }' <<<"$2"; }
pid_of()    { awk -v n="$1" '$1 == n { print $3 }' <<<"$2"; }

run "$INFRA" up redis postgres
if (( RC == 0 )) && [[ $OUT == *"redis: started"* && $OUT == *"postgres: started"* ]]; then
  ok "up redis postgres starts both"
else
  not_ok "up redis postgres starts both" "rc=$RC" "$OUT"
fi

run "$INFRA" status; S1=$OUT
if (( RC == 0 )) && [[ $(status_of redis "$S1") == up && $(status_of postgres "$S1") == up && $(status_of kafka "$S1") == down ]]; then
  ok "status shows redis and postgres up, the others down"
else
  not_ok "status shows redis and postgres up, the others down" "rc=$RC" "$S1"
fi

if [[ -f $RUN/env ]] && grep -qx "REDIS_URL=redis://127.0.0.1:$REDIS_PORT" "$RUN/env" \
   && grep -qx "POSTGRES_PORT=$POSTGRES_PORT" "$RUN/env"; then
  ok "up writes the env file with the ports in use"
else
  not_ok "up writes the env file with the ports in use" "$(cat "$RUN/env" 2>&1)"
fi

run "$INFRA" up redis postgres
run2_out=$OUT run2_rc=$RC
run "$INFRA" status; S2=$OUT
if (( run2_rc == 0 )) && [[ $run2_out == *"redis: already running"* && $run2_out == *"postgres: already running"* \
      && $run2_out != *started* ]] \
   && [[ $(pid_of redis "$S1") == "$(pid_of redis "$S2")" && $(pid_of postgres "$S1") == "$(pid_of postgres "$S2")" ]]; then
  ok "a second up is a no-op (same pids, reported as already running)"
else
  not_ok "a second up is a no-op (same pids, reported as already running)" "rc=$run2_rc" "$run2_out" "$S2"
fi

# The app role and databases exist and password auth works over TCP.
PSQL=$(ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n1)
[[ -n $PSQL ]] || PSQL=$(command -v psql)
if [[ -n $PSQL ]] && [[ $(PGPASSWORD=conveyor "$PSQL" -X -h 127.0.0.1 -p "$POSTGRES_PORT" -U conveyor -d conveyor_order -Atc \
      "select count(*) from pg_database where datname in ('conveyor_order','conveyor_points','conveyor_notification','conveyor_search')" 2>&1) == 4 ]]; then
  ok "postgres: role conveyor logs in with its password and sees the four databases"
else
  not_ok "postgres: role conveyor logs in with its password and sees the four databases"
fi

# --- the read replica: cloned from the running primary, streaming its writes -----------------

rpsql() { # <port> <database> <sql>
  PGPASSWORD=conveyor "$PSQL" -X -q -At -h 127.0.0.1 -p "$1" -U conveyor -d "$2" -c "$3" 2>&1
}
run "$INFRA" up replica
if (( RC == 0 )) && [[ $OUT == *"base backup"* && $OUT == *"replica: started"* && $OUT != *"postgres: started"* ]] \
   && grep -qx "POSTGRES_REPLICA_PORT=$POSTGRES_REPLICA_PORT" "$RUN/env" \
   && [[ $(rpsql "$POSTGRES_REPLICA_PORT" conveyor_order 'select pg_is_in_recovery()') == t ]]; then
  ok "up replica clones the running primary, answers as a standby, and is in the env file"
else
  not_ok "up replica clones the running primary, answers as a standby, and is in the env file" "rc=$RC" "$OUT" "$(cat "$RUN/env" 2>&1)"
fi

# A write on the primary shows on the replica; with replay paused (the app
# role may pause it), it does not until replay resumes.
rpsql "$POSTGRES_PORT" conveyor_order 'create table replica_probe (n int); insert into replica_probe values (1)' >/dev/null
seen=''
for _ in $(seq 50); do seen=$(rpsql "$POSTGRES_REPLICA_PORT" conveyor_order 'select count(*) from replica_probe'); [[ $seen == 1 ]] && break; sleep 0.1; done
paused=$(rpsql "$POSTGRES_REPLICA_PORT" postgres 'select pg_wal_replay_pause()')
rpsql "$POSTGRES_PORT" conveyor_order 'insert into replica_probe values (2)' >/dev/null
for _ in $(seq 50); do [[ $(rpsql "$POSTGRES_REPLICA_PORT" postgres 'select pg_get_wal_replay_pause_state()') == paused ]] && break; sleep 0.1; done
while_paused=$(rpsql "$POSTGRES_REPLICA_PORT" conveyor_order 'select count(*) from replica_probe')
rpsql "$POSTGRES_REPLICA_PORT" postgres 'select pg_wal_replay_resume()' >/dev/null
after=''
for _ in $(seq 50); do after=$(rpsql "$POSTGRES_REPLICA_PORT" conveyor_order 'select count(*) from replica_probe'); [[ $after == 2 ]] && break; sleep 0.1; done
if [[ $seen == 1 && $while_paused == 1 && $after == 2 ]]; then
  ok "replica: streams the primary's writes; paused replay holds them back until resumed"
else
  not_ok "replica: streams the primary's writes; paused replay holds them back until resumed" "seen=$seen paused=$paused while_paused=$while_paused after=$after"
fi

# Stopped and started again, it catches up from its slot without a new base
# backup; `up replica` with the primary down starts the primary first.
"$INFRA" down replica >/dev/null 2>&1
rpsql "$POSTGRES_PORT" conveyor_order 'insert into replica_probe values (3)' >/dev/null
"$INFRA" down postgres >/dev/null 2>&1
run "$INFRA" up replica
after=''
for _ in $(seq 50); do after=$(rpsql "$POSTGRES_REPLICA_PORT" conveyor_order 'select count(*) from replica_probe'); [[ $after == 3 ]] && break; sleep 0.1; done
if (( RC == 0 )) && [[ $OUT == *"postgres: started"* && $OUT == *"replica: started"* && $OUT != *"base backup"* && $after == 3 ]]; then
  ok "replica: up replica starts its primary first; restarted, it catches up without a new base backup"
else
  not_ok "replica: up replica starts its primary first; restarted, it catches up without a new base backup" "rc=$RC" "$OUT" "rows=$after"
fi

# PgBouncer, only when named: in front of that postgres, transaction mode.
# The first run on a machine installs it, as `make test-pgbouncer` would.
run "$INFRA" up pgbouncer
pb_out=$OUT pb_rc=$RC
pooled=$(PGPASSWORD=conveyor "$PSQL" -X -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U conveyor -d conveyor_order -Atc "select current_setting('port')" 2>&1)
mode=$(PGPASSWORD=conveyor "$PSQL" -X -h 127.0.0.1 -p "$PGBOUNCER_PORT" -U conveyor -d pgbouncer -Atc "show config" 2>&1 | awk -F'|' '$1 == "pool_mode" { print $2 }')
if (( pb_rc == 0 )) && [[ $pb_out == *"pgbouncer: started"* && $pooled == "$POSTGRES_PORT" && $mode == transaction ]] \
   && grep -qx "PGBOUNCER_PORT=$PGBOUNCER_PORT" "$RUN/env"; then
  ok "up pgbouncer: transaction mode in front of postgres, conveyor logs in through it, env file has its port"
else
  not_ok "up pgbouncer: transaction mode in front of postgres, conveyor logs in through it, env file has its port" "rc=$pb_rc" "$pb_out" "through it: $pooled" "pool_mode: $mode"
fi

run "$INFRA" down
run "$INFRA" status; S3=$OUT
# Every server's row (the six and pgbouncer, started only when asked) says down.
if [[ $(grep -c ' down$' <<<"$S3") == $(($(grep -c . <<<"$S3") - 1)) ]] && ! grep -qw up <<<"$S3" && no_leftovers; then
  ok "down stops everything: status shows all down, no process of the run dir remains"
else
  not_ok "down stops everything: status shows all down, no process of the run dir remains" "$S3" "left: $(leftovers | tr '\n' ' ')"
fi

# --- stale pid file: its process is gone ---------------------------------------------------

sleep 0.01 & dead=$!; wait "$dead"
echo "$dead" > "$RUN/redis/pid"
run "$INFRA" up redis
if (( RC == 0 )) && [[ $OUT == *stale* && $OUT == *"redis: started"* ]]; then
  ok "a stale pid file is cleaned up and the server started"
else
  not_ok "a stale pid file is cleaned up and the server started" "rc=$RC" "$OUT"
fi
"$INFRA" down redis >/dev/null 2>&1

# --- 5. a failure leaves nothing started ------------------------------------------------------

# a) caught by pre-flight: kafka's port is taken, so not even redis starts.
occupy "$KAFKA_PORT"
run "$INFRA" up redis kafka
if (( RC != 0 )) && [[ $OUT == *"port $KAFKA_PORT"* && $OUT != *"redis: started"* ]] && no_leftovers; then
  ok "up redis kafka with kafka's port taken starts nothing (pre-flight)"
else
  not_ok "up redis kafka with kafka's port taken starts nothing (pre-flight)" "rc=$RC" "$OUT" "left: $(leftovers | tr '\n' ' ')"
fi
release_all

# b) a server dying during start-up: a "jaeger" binary that exits at once (in a
#    separate cache, stamped as current so no build is attempted). redis has
#    already been launched by then and must be stopped again.
FAKE=$TMP/fake-cache
mkdir -p "$FAKE/bin"
printf '#!/bin/sh\necho "fake jaeger: failing on purpose" >&2\nexit 3\n' > "$FAKE/bin/jaeger"
chmod +x "$FAKE/bin/jaeger"
cat "$HERE/jaeger/go.mod" "$HERE/jaeger/go.sum" | sha256sum > "$FAKE/bin/jaeger.sha256"
OUT=$(CONVEYOR_CACHE_DIR=$FAKE "$INFRA" up redis jaeger 2>&1); RC=$?
if (( RC != 0 )) && [[ $OUT == *jaeger* ]] && no_leftovers && [[ $("$INFRA" status | awk '$1 == "redis" { print $NF }') == down ]]; then
  ok "a server failing mid-start makes up stop what it had started (redis)"
else
  not_ok "a server failing mid-start makes up stop what it had started (redis)" "rc=$RC" "$OUT" "left: $(leftovers | tr '\n' ' ')"
fi

# --- 6. the slower servers, when nothing has to be installed or built -------------------------

CACHE=${CONVEYOR_CACHE_DIR:-$(cd "$HERE/../.." && pwd -P)/.cache}
if [[ -x $CACHE/bin/jaeger && -f $CACHE/kafka/libs/.pom.sha256 && -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] \
   && command -v java >/dev/null; then
  run "$INFRA" up rabbitmq kafka jaeger
  up_out=$OUT up_rc=$RC
  run "$INFRA" status; S4=$OUT
  traces=$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0"; printf "GET /api/services HTTP/1.0\r\n\r\n" >&3; head -n1 <&3' "$JAEGER_QUERY_PORT" 2>/dev/null)
  if (( up_rc == 0 )) && [[ $(status_of rabbitmq "$S4") == up && $(status_of kafka "$S4") == up \
        && $(status_of jaeger "$S4") == up && $traces == *" 200 "* ]]; then
    ok "up rabbitmq kafka jaeger: all three answer"
  else
    not_ok "up rabbitmq kafka jaeger: all three answer" "rc=$up_rc" "$up_out" "$S4"
  fi
  run "$INFRA" down
  if no_leftovers; then
    ok "down rabbitmq kafka jaeger leaves no process behind (epmd included)"
  else
    not_ok "down rabbitmq kafka jaeger leaves no process behind (epmd included)" "left: $(leftovers | tr '\n' ' ')"
  fi
else
  echo "# skipped: rabbitmq/kafka/jaeger lifecycle (needs a prior 'infra up' to install, fetch and build them)"
fi

echo "$PASSED passed, $FAILED failed"
(( FAILED == 0 ))
