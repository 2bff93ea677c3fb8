#!/usr/bin/env bash
# Proves tools/audit.mjs judges a report the way docs/development.md says: high
# and critical advisories fail it, moderate ones do not, an allow-list entry
# accepts exactly its advisory until it expires. Uses saved reports, so it runs
# without the registry.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

report() { # file, severity of the one advisory (or "none")
  if [ "$2" = none ]; then echo '{"auditReportVersion":2,"vulnerabilities":{},"metadata":{"vulnerabilities":{}}}' >"$1"; return; fi
  cat >"$1" <<JSON
{ "auditReportVersion": 2,
  "vulnerabilities": {
    "parser-lib": { "name": "parser-lib", "severity": "$2", "via": [ { "source": 1, "name": "parser-lib", "title": "Prototype pollution", "url": "https://github.com/advisories/GHSA-aaaa-bbbb-cccc", "severity": "$2" } ] },
    "web-framework": { "name": "web-framework", "severity": "$2", "via": [ "parser-lib" ] } },
  "metadata": { "vulnerabilities": { "$2": 2 } } }
JSON
}
allowlist() { echo "{\"advisories\": [$1]}" >"$tmp/allow.json"; }
accept_until() { allowlist "{\"id\": \"GHSA-aaaa-bbbb-cccc\", \"reason\": \"not reachable from our code\", \"expires\": \"$1\"}"; }

passed=0 failed=0
check() { # name, expected exit (0|1), report file
  local status=0
  AUDIT_ALLOWLIST=$tmp/allow.json node tools/audit.mjs --report "$3" >"$tmp/out" 2>&1 || status=$?
  if [ "$status" = "$2" ]; then echo "ok - $1"; passed=$((passed + 1)); else echo "not ok - $1 (exit $status)"; sed 's/^/    /' "$tmp/out"; failed=$((failed + 1)); fi
}

report "$tmp/clean.json" none
report "$tmp/high.json" high
report "$tmp/critical.json" critical
report "$tmp/moderate.json" moderate

allowlist ''
check "a report without advisories passes" 0 "$tmp/clean.json"
check "a high advisory fails the audit" 1 "$tmp/high.json"
check "a critical advisory fails the audit" 1 "$tmp/critical.json"
check "a moderate advisory does not fail it" 0 "$tmp/moderate.json"
accept_until 2999-12-31
check "an allow-list entry accepts its advisory" 0 "$tmp/high.json"
accept_until 2000-01-01
check "an expired allow-list entry accepts nothing" 1 "$tmp/high.json"
allowlist '{"id": "GHSA-aaaa-bbbb-cccc"}'
check "an entry without reason and expiry is refused" 1 "$tmp/clean.json"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
