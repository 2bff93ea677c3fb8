#!/usr/bin/env bash
# The deployment checks of issue 12, run by `make test` (steps 1–7):
#   deploy/check/chart    1–4: helm lint + unittest, kubeconform, conftest, a
#                         real control plane (pods simulated by kwok)
#   deploy/check/image    5: the Dockerfile built and run with podman, compose parses
#   deploy/check/scripts  6: shellcheck, the kind config parses, deploy/kind/up against stand-ins
#   deploy/check/servers  7: the chart's provisioning script and Jaeger config on the real local servers
# Tools are built or installed on the first run and cached under .cache/.
# Ends with `N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

deploy/check/prereqs || echo "not ok - deploy/check/prereqs could not install the Debian packages"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for step in chart image scripts servers; do
  t0=$(date +%s)
  deploy/check/$step 2>&1 | tee -a "$out"
  echo "# deploy/check/$step: $(($(date +%s) - t0)) s"
done
passed=$(grep -c '^ok - ' "$out")
failed=$(grep -c '^not ok - ' "$out")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
