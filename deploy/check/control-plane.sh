# shellcheck shell=bash
# A throw-away Kubernetes control plane on 127.0.0.1, for deploy/check/chart:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built from
# the Go module proxy by deploy/tools/install), plus kwok, which registers one
# fake node and plays the kubelet: pods are scheduled, get an IP and turn
# Ready (Job pods Succeeded) without any container running.
#
#   control_plane_up <dir>   starts everything on free loopback ports; exports
#                            KUBECONFIG; returns 1 if the API never got ready
#   control_plane_down       stops every process it started (also on EXIT)
#
# Sourced after lib.sh. Every server binds 127.0.0.1 only.

CP_PIDS=()
CP_DIR=

cp_start() { # <name> <command...>: in the background, logging to $CP_DIR/<name>.log
  local name=$1; shift
  "$@" >"$CP_DIR/$name.log" 2>&1 &
  CP_PIDS+=("$!")
}

control_plane_down() {
  local pid i
  trap '' INT TERM # finish the clean-up whatever arrives meanwhile
  # SIGTERM to all, kwok and the controllers first, etcd last; then SIGKILL to
  # whatever is still there after 10 s.
  for ((i = ${#CP_PIDS[@]} - 1; i >= 0; i--)); do kill "${CP_PIDS[i]}" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${CP_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${CP_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  CP_PIDS=()
}

control_plane_up() { # <dir>
  CP_DIR=$1
  mkdir -p "$CP_DIR/pki" "$CP_DIR/etcd"
  trap 'control_plane_down; cleanup_dirs' EXIT
  trap 'exit 130' INT TERM
  local etcd_client etcd_peer api kcm sched kwok_port token
  read -r etcd_client etcd_peer api kcm sched kwok_port <<<"$(free_ports 6)"
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

  # Service-account signing key (tokens of the controllers and of pods).
  if ! openssl genrsa -out "$CP_DIR/pki/sa.key" 2048 2>/dev/null ||
    ! openssl rsa -in "$CP_DIR/pki/sa.key" -pubout -out "$CP_DIR/pki/sa.pub" 2>/dev/null; then
    echo "control plane: openssl failed" >&2; return 1
  fi
  echo "$token,admin,admin,system:masters" >"$CP_DIR/pki/tokens.csv"

  cp_start etcd etcd --name conveyor-check --data-dir "$CP_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "conveyor-check=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn

  # --endpoint-reconciler-type=none: the apiserver cannot advertise a loopback
  # address as the `kubernetes` Service's endpoint.
  cp_start kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_client" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api" \
    --cert-dir "$CP_DIR/pki" --token-auth-file "$CP_DIR/pki/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$CP_DIR/pki/sa.pub" \
    --service-account-signing-key-file "$CP_DIR/pki/sa.key" --service-cluster-ip-range 198.19.0.0/16 \
    --endpoint-reconciler-type none --enable-priority-and-fairness=false --profiling=false

  export KUBECONFIG=$CP_DIR/kubeconfig
  cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: check
    cluster: { server: "https://127.0.0.1:$api", insecure-skip-tls-verify: true }
users:
  - name: admin
    user: { token: "$token" }
contexts:
  - name: check
    context: { cluster: check, user: admin }
current-context: check
EOF
  local up=0
  for _ in $(seq 240); do
    if kubectl get --raw /readyz >/dev/null 2>&1; then up=1; break; fi
    sleep 0.5
  done
  ((up)) || { echo "control plane: kube-apiserver not ready after 120 s" >&2; return 1; }

  cp_start kube-controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG" \
    --bind-address 127.0.0.1 --secure-port "$kcm" --leader-elect=false \
    --service-account-private-key-file "$CP_DIR/pki/sa.key" --root-ca-file "$CP_DIR/pki/apiserver.crt" \
    --profiling=false
  cp_start kube-scheduler kube-scheduler --kubeconfig "$KUBECONFIG" \
    --bind-address 127.0.0.1 --secure-port "$sched" --leader-elect=false --profiling=false

  # kwok's own stage definitions (node ready; pod ready, Job pod complete, pod delete),
  # read from the module it was built from.
  local kwok_src
  kwok_src=$(cd "$ROOT/deploy/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok) || return 1
  {
    cat "$kwok_src/kustomize/stage/node/fast/node-initialize.yaml"
    local f
    for f in pod-ready pod-complete pod-delete; do echo "---"; cat "$kwok_src/kustomize/stage/pod/fast/$f.yaml"; done
  } >"$CP_DIR/kwok-stages.yaml"
  cp_start kwok kwok --kubeconfig "$KUBECONFIG" --config "$CP_DIR/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --node-ip 127.0.0.1 --node-port "$kwok_port" --server-address "127.0.0.1:$kwok_port" \
    --cidr 198.18.0.1/24 --node-lease-duration-seconds 40

  # (The API server taints a new node not-ready; the node lifecycle controller
  # lifts the taint once kwok reports the node Ready and renews its lease.)
  kubectl apply -f - >/dev/null <<'EOF' || return 1
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: { kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0" }
  labels: { kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok }
spec: {}
status:
  allocatable: { cpu: "8", memory: 16Gi, pods: "110" }
  capacity: { cpu: "8", memory: 16Gi, pods: "110" }
EOF
  # A Ready node without taints, a default ServiceAccount (the controller makes it).
  for _ in $(seq 240); do
    [[ $(kubectl get node kwok-node-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}/{.spec.taints}' 2>/dev/null) == True/ ]] &&
      kubectl get serviceaccount default -n default >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "control plane: the kwok node never became Ready and untainted, or no default ServiceAccount" >&2
  kubectl get node kwok-node-0 -o yaml >&2
  return 1
}
