# Sourced by the tools/*.test.sh scripts that check a command's exit and output:
#   check NAME EXPECTED TEXT COMMAND...  EXPECTED is pass or fail (the exit status), TEXT a
#                                        string the output must contain ('' for none)
#   finish LABEL                         prints "LABEL: N passed, M failed" (the line
#                                        tools/test-summary.mjs reads); fails if any failed
passed=0 failed=0
check() {
  local what=$1 expected=$2 text=$3 out status; shift 3
  out=$("$@" 2>&1) && status=pass || status=fail
  if [ "$status" = "$expected" ] && { [ -z "$text" ] || grep -qF -- "$text" <<<"$out"; }; then
    echo "ok - $what"; passed=$((passed + 1))
  else
    echo "not ok - $what (got: $status)"; echo "$out" | tail -20 | sed 's/^/    /'; failed=$((failed + 1))
  fi
}
finish() {
  echo "$1: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
