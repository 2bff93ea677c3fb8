# shellcheck shell=bash
# Sourced by deploy/local/infra and deploy/local/services: `make demo` and a
# kind cluster of `make kind-up` both want 127.0.0.1:3001-3004 and :16686.
#
#   kind_cluster_publishing <port>   prints the name of the kind cluster whose
#                                    node container publishes 127.0.0.1:<port>
#                                    (docker ps), or fails
kind_cluster_publishing() {
  command -v docker >/dev/null 2>&1 || return 1
  docker ps --filter label=io.x-k8s.kind.cluster --format '{{.Label "io.x-k8s.kind.cluster"}} {{.Ports}}' 2>/dev/null |
    awk -v p="127.0.0.1:$1->" 'index($0, p) { print $1; found = 1; exit } END { exit !found }'
}

# kind_port_hint <port>: what to do when that cluster holds the port, or nothing.
kind_port_hint() {
  local cluster
  cluster=$(kind_cluster_publishing "$1") || return 0
  printf '; it is published by the kind cluster %s (make kind-up maps the same ports): make kind-down first, or make it with other host ports (CONVEYOR_KIND_PORT_<NAME>, deploy/kind/up)' "$cluster"
}
