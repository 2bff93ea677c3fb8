#!/bin/sh
# Creates the services' own PostgreSQL roles and databases and RabbitMQ users,
# idempotently (the chart's provisioning Job runs it at install and before
# every upgrade; deploy/check/provision runs it against real servers).
#
#   provision.sh postgresql   plan lines: postgresql <role> <database> <password env>
#   provision.sh rabbitmq     plan lines: rabbitmq <user> <vhost> <configure> <write> <read> <password env>
#
# The plan is $PROVISION_PLAN (default: plan.txt beside this script). Admin
# credentials: PGHOST, PGPORT, PGUSER, PGPASSWORD (libpq's own names);
# RABBITMQ_MANAGEMENT_URL, RABBITMQ_ADMIN_USER, RABBITMQ_ADMIN_PASSWORD.
# Each server is waited for up to PROVISION_WAIT_SECONDS (default 300).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
plan=${PROVISION_PLAN:-$here/plan.txt}
deadline=$(($(date +%s) + ${PROVISION_WAIT_SECONDS:-300}))

say() { echo "provision: $*"; }
wait_for() { # <what> <command...>: retried every 2 s until the deadline
  what=$1
  shift
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "$what did not answer within ${PROVISION_WAIT_SECONDS:-300} s"
      "$@" || true
      exit 1
    fi
    say "waiting for $what"
    sleep 2
  done
}
secret() { # <env name>: its value, which must be set and non-empty
  eval "v=\${$1:-}"
  [ -n "$v" ] || { say "$1 is not set"; exit 1; }
  printf '%s' "$v"
}

postgresql() {
  export PGDATABASE=postgres
  wait_for "PostgreSQL at ${PGHOST:-?}:${PGPORT:-5432}" psql -Atc 'SELECT 1'
  grep '^postgresql ' "$plan" | while read -r _ role db env; do
    PROVISION_PASSWORD=$(secret "$env") psql -q -v ON_ERROR_STOP=1 -v role="$role" -v db="$db" <<'SQL'
\getenv pw PROVISION_PASSWORD
SELECT format('CREATE ROLE %I', :'role') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'role') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
    # A database made before roles were per service: its objects belong to
    # the admin; they become the service's (tables, sequences, views, functions, types).
    psql -q -v ON_ERROR_STOP=1 -v role="$role" -d "$db" <<'SQL'
ALTER SCHEMA public OWNER TO :"role";
SELECT format('ALTER %s %I.%I OWNER TO %I',
         CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
         n.nspname, c.relname, :'role')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
   AND pg_get_userbyid(c.relowner) <> :'role'
   AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))) \gexec
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, :'role')
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> :'role'
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \gexec
SELECT format('ALTER TYPE %I.%I OWNER TO %I', n.nspname, t.typname, :'role')
  FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd') AND pg_get_userbyid(t.typowner) <> :'role'
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e') \gexec
SQL
    say "postgresql: role $role owns database $db"
  done
}

rabbitmq() {
  api=${RABBITMQ_MANAGEMENT_URL%/}
  admin="$RABBITMQ_ADMIN_USER:$(secret RABBITMQ_ADMIN_PASSWORD)"
  wait_for "RabbitMQ's management API at $api" curl -fsS -u "$admin" "$api/api/overview"
  json() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
  grep '^rabbitmq ' "$plan" | while read -r _ user vhost configure write read env; do
    pw=$(secret "$env")
    vh=$(printf '%s' "$vhost" | sed 's|/|%2F|g')
    curl -fsS -u "$admin" -X PUT -H 'content-type: application/json' \
      -d "{\"password\":\"$(json "$pw")\",\"tags\":\"\"}" "$api/api/users/$user" >/dev/null
    curl -fsS -u "$admin" -X PUT -H 'content-type: application/json' \
      -d "{\"configure\":\"$(json "$configure")\",\"write\":\"$(json "$write")\",\"read\":\"$(json "$read")\"}" \
      "$api/api/permissions/$vh/$user" >/dev/null
    say "rabbitmq: user $user on vhost $vhost: configure $configure, write $write, read $read"
  done
}

case ${1:-} in
  postgresql | rabbitmq) "$1" ;;
  *) echo "usage: provision.sh postgresql|rabbitmq" >&2; exit 2 ;;
esac
