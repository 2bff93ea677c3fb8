# shellcheck shell=bash
# A one-node Kubernetes cluster from the official components, as processes on
# this machine (make test-cluster): the control plane of deploy/check
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, v1.37), and a
# node: containerd (Debian 12's 1.6) with runc (through runc-oom-clamp where
# root may not lower oom_score_adj), the CNI plugins (Debian's
# containernetworking-plugins: bridge, host-local, portmap, loopback), kubelet
# and kube-proxy (v1.37, deploy/tools/kubernetes-node).
#
# Addresses: pods 198.18.0.0/24 on the bridge cnv0 (198.18.0.1, also the
# node's and the API server's address), services 198.19.0.0/16 — both in
# 198.18.0.0/15, reserved for benchmarking, never a private range. Nothing is
# masqueraded and no route leaves the machine: pods reach only this host
# (their one route beyond the bridge is the services' range, via 198.18.0.1).
#
# cluster_up <dir> / cluster_down; sourced by deploy/cluster/test.
# cluster_down leaves the machine as it was: the pods stopped through kubelet
# (their veths and network namespaces with them), the processes, mounts,
# iptables chains (kube-proxy's, kubelet's, kube-router's if
# CL_KUBE_ROUTER=yes) and ipsets, the kubepods cgroups, /var/lib/kubelet and
# /var/lib/cni if this cluster made them, the bridge, the two sysctls.

CL_PIDS=()
CL_DIR=
CL_SYSCTLS=
CL_NETNS_BEFORE=
CL_OWN_KUBEPODS=no
CL_MADE=()
CL_KUBE_ROUTER=no # deploy/cluster/test started kube-router's policy controller
CL_BRIDGE=cnv0
CL_NODE_IP=198.18.0.1
CL_POD_CIDR=198.18.0.0/24
CL_SERVICE_CIDR=198.19.0.0/16
CL_DNS_IP=198.19.0.10
CL_NODE=conveyor-node

cl_say() { echo "# cluster: $*"; }
cl_start() { # <name> <command...>: in the background, logging to $CL_DIR/<name>.log
  local name=$1
  shift
  "$@" >"$CL_DIR/$name.log" 2>&1 &
  CL_PIDS+=("$!")
}
cl_wait() { # <seconds> <what> <command...>: until it succeeds, or fail naming what
  local secs=$1 what=$2
  shift 2
  for _ in $(seq $((secs * 2))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "cluster: $what did not happen within $secs s" >&2
  return 1
}

# What kube-router's policy controller leaves in iptables and ipset. Not
# `kube-router --cleanup-config`: it leaves them (v2.1.0, iptables-nft), and
# its service-proxy cleanup deletes every IPVS service of the machine.
cl_kube_router_clean() {
  local rule chain set
  iptables-save -t filter | grep -E '^-A (INPUT|FORWARD|OUTPUT) .*-j KUBE-ROUTER-' | while read -r rule; do
    eval "iptables -t filter ${rule/-A/-D}" 2>/dev/null || true
  done
  local chains
  chains=$(iptables-save -t filter | sed -nE 's/^:((KUBE-ROUTER|KUBE-NWPLCY|KUBE-POD-FW)-[^ ]*) .*/\1/p')
  for chain in $chains; do iptables -F "$chain" 2>/dev/null || true; done
  for chain in $chains; do iptables -X "$chain" 2>/dev/null || true; done
  for set in $(ipset list -n 2>/dev/null | grep -E '^(KUBE-(SRC|DST)-|kube-router-)'); do
    ipset destroy "$set" 2>/dev/null || true
  done
}

cluster_down() {
  local pid i n
  trap '' INT TERM
  # The pods first, through kubelet: it stops their containers and sandboxes,
  # and containerd takes their veths and network namespaces down with them.
  if [[ -n $CL_DIR && -f $CL_DIR/kubeconfig ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    kubectl delete deployments,daemonsets,jobs --all -A --wait=false >/dev/null 2>&1
    kubectl delete pods --all -A --grace-period=1 --timeout=60s >/dev/null 2>&1
    for _ in $(seq 60); do
      ctr -a "$CL_DIR/containerd.sock" -n k8s.io tasks ls 2>/dev/null | grep -q RUNNING || break
      sleep 0.5
    done
  fi
  for ((i = ${#CL_PIDS[@]} - 1; i >= 0; i--)); do kill "${CL_PIDS[i]}" 2>/dev/null || true; done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${CL_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${CL_PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  CL_PIDS=()
  # What containerd's shims left running (they outlive containerd by design).
  if [[ -n $CL_DIR && -d $CL_DIR/containerd ]]; then
    for pid in $(pgrep -f "containerd-shim-runc-v2 -namespace k8s.io .*-address $CL_DIR/containerd.sock" 2>/dev/null); do
      kill -9 "$pid" 2>/dev/null || true
    done
  fi
  # Whatever is still in kubelet's cgroups (a pod kubelet did not stop), the
  # cgroups, and the network namespaces containerd made: only if this
  # cluster made them.
  if [[ $CL_OWN_KUBEPODS == yes ]]; then
    for pid in $(find /sys/fs/cgroup/*/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u); do
      kill -9 "$pid" 2>/dev/null || true
    done
    for _ in $(seq 20); do
      find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null
      compgen -G '/sys/fs/cgroup/*/kubepods' >/dev/null || break
      sleep 0.2
    done
  fi
  for n in /run/netns/cni-*; do
    [[ -e $n && " $CL_NETNS_BEFORE " != *" $n "* ]] || continue
    umount "$n" 2>/dev/null; rm -f "$n"
  done
  rm -f /var/lib/cni/results/conveyor-* 2>/dev/null
  rm -rf "${CL_MADE[@]}"
  CL_MADE=()
  [[ -n $CL_DIR ]] && grep -o " $CL_DIR/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  # kube-router's chains and ipsets, kube-proxy's chains (--cleanup), then kubelet's own.
  [[ $CL_KUBE_ROUTER == yes ]] && cl_kube_router_clean
  CL_KUBE_ROUTER=no
  kube-proxy --cleanup >/dev/null 2>&1 || true
  local t ipt
  for ipt in iptables ip6tables; do
    "$ipt" -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
    "$ipt" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
    "$ipt" -F KUBE-FIREWALL 2>/dev/null && "$ipt" -X KUBE-FIREWALL 2>/dev/null
    for t in filter nat mangle; do "$ipt" -t "$t" -X KUBE-KUBELET-CANARY 2>/dev/null || true; done
    "$ipt" -t mangle -X KUBE-IPTABLES-HINT 2>/dev/null || true
  done
  # shellcheck disable=SC2086 # one word per setting
  [[ -n $CL_SYSCTLS ]] && { sysctl -qw $CL_SYSCTLS || true; } # as they were before cluster_up
  ip link del "$CL_BRIDGE" 2>/dev/null || true
}

cluster_up() { # <dir>
  CL_DIR=$1
  CL_NETNS_BEFORE=$(echo /run/netns/cni-*)
  # kubelet's device-plugin socket and containerd's CNI result cache have fixed
  # paths: cluster_down removes them if this cluster made them.
  CL_MADE=()
  local d
  for d in /var/lib/kubelet /var/lib/cni; do [[ -e $d ]] || CL_MADE+=("$d"); done
  compgen -G '/sys/fs/cgroup/*/kubepods' >/dev/null || CL_OWN_KUBEPODS=yes
  mkdir -p "$CL_DIR"/{pki,etcd,containerd,cni/net.d,cni/ipam,kubelet,kubelet-root}
  local etcd_client etcd_peer api kcm sched token
  read -r etcd_client etcd_peer api kcm sched <<<"$(free_ports 5)"
  token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')

  # --- the node's network: a bridge only this machine's pods are on ------------
  ip link add "$CL_BRIDGE" type bridge 2>/dev/null || true
  ip addr replace "$CL_NODE_IP/24" dev "$CL_BRIDGE"
  ip link set "$CL_BRIDGE" up
  CL_SYSCTLS=$(sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables 2>/dev/null | tr -d ' ' | tr '\n' ' ')
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 || return 1

  # --- control plane -------------------------------------------------------------
  if ! openssl genrsa -out "$CL_DIR/pki/sa.key" 2048 2>/dev/null ||
    ! openssl rsa -in "$CL_DIR/pki/sa.key" -pubout -out "$CL_DIR/pki/sa.pub" 2>/dev/null; then
    echo "cluster: openssl failed" >&2
    return 1
  fi
  echo "$token,admin,admin,system:masters" >"$CL_DIR/pki/tokens.csv"
  cl_start etcd etcd --name conveyor-cluster --data-dir "$CL_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_client" --advertise-client-urls "http://127.0.0.1:$etcd_client" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
    --initial-cluster "conveyor-cluster=http://127.0.0.1:$etcd_peer" --unsafe-no-fsync --log-level warn
  # On the bridge address: the pods that talk to the API (DNS, the policy enforcer) reach it there.
  cl_start kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_client" \
    --bind-address "$CL_NODE_IP" --advertise-address "$CL_NODE_IP" --secure-port "$api" \
    --cert-dir "$CL_DIR/pki" --token-auth-file "$CL_DIR/pki/tokens.csv" --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$CL_DIR/pki/sa.pub" \
    --service-account-signing-key-file "$CL_DIR/pki/sa.key" --service-cluster-ip-range "$CL_SERVICE_CIDR" \
    --service-node-port-range 30000-32767 --enable-priority-and-fairness=false --profiling=false \
    --kubelet-preferred-address-types InternalIP \
    --allow-privileged=false
  export KUBECONFIG=$CL_DIR/kubeconfig
  cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: conveyor
    cluster: { server: "https://$CL_NODE_IP:$api", insecure-skip-tls-verify: true }
users:
  - name: admin
    user: { token: "$token" }
contexts:
  - name: conveyor
    context: { cluster: conveyor, user: admin }
current-context: conveyor
EOF
  cl_wait 120 "kube-apiserver /readyz" kubectl get --raw /readyz || return 1
  cl_start kube-controller-manager kube-controller-manager --kubeconfig "$KUBECONFIG" \
    --bind-address 127.0.0.1 --secure-port "$kcm" --leader-elect=false \
    --service-account-private-key-file "$CL_DIR/pki/sa.key" --root-ca-file "$CL_DIR/pki/apiserver.crt" \
    --use-service-account-credentials --controllers '*,-nodeipam' --profiling=false
  cl_start kube-scheduler kube-scheduler --kubeconfig "$KUBECONFIG" \
    --bind-address 127.0.0.1 --secure-port "$sched" --leader-elect=false --profiling=false

  # --- containerd + runc -------------------------------------------------------------
  # kubelet asks for negative oom_score_adj (sandboxes -998, containers down to
  # -997); where root may not lower it (no CAP_SYS_RESOURCE, as in this
  # machine's sandbox) runc fails every sandbox, so containerd runs runc through
  # deploy/cluster/runc-oom-clamp, which raises negative values to 0. Probed: a
  # child shell writes -1 to its own oom_score_adj. A real node keeps plain runc.
  local runc_binary=""
  if ! sh -c 'echo -1 >/proc/self/oom_score_adj' 2>/dev/null; then
    runc_binary="BinaryName = \"$ROOT/deploy/cluster/runc-oom-clamp\""
    cl_say "this machine refuses a negative oom_score_adj: runc runs through deploy/cluster/runc-oom-clamp"
  fi
  cat >"$CL_DIR/cni/net.d/10-conveyor.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "conveyor",
  "plugins": [
    { "type": "bridge", "bridge": "$CL_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$CL_DIR/cni/ipam", "ranges": [[{ "subnet": "$CL_POD_CIDR", "gateway": "$CL_NODE_IP" }]],
        "routes": [{ "dst": "$CL_SERVICE_CIDR" }] } },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  cat >"$CL_DIR/containerd.toml" <<EOF
version = 2
root = "$CL_DIR/containerd/root"
state = "$CL_DIR/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri.v1alpha2"]
[grpc]
  address = "$CL_DIR/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "conveyor.local/pause:1"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        $runc_binary
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CL_DIR/cni/net.d"
EOF
  cl_start containerd containerd --config "$CL_DIR/containerd.toml"
  cl_wait 60 "containerd's socket" ctr -a "$CL_DIR/containerd.sock" version || return 1

  # --- kubelet + kube-proxy --------------------------------------------------------
  cat >"$CL_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 (v2 only as the hybrid 'unified' mount): kubelet
# 1.35+ refuses v1 unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$CL_DIR/containerd.sock
address: 127.0.0.1
port: $(free_ports 1)
readOnlyPort: 0
healthzPort: 0
authentication: { anonymous: { enabled: true }, webhook: { enabled: false } }
authorization: { mode: AlwaysAllow }
clusterDNS: [$CL_DNS_IP]
clusterDomain: cluster.local
failSwapOn: false
podCIDR: $CL_POD_CIDR
serializeImagePulls: false
evictionHard: { memory.available: 100Mi, nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
resolvConf: /etc/resolv.conf
podLogsDir: $CL_DIR/pod-logs
EOF
  cl_start kubelet kubelet --config "$CL_DIR/kubelet.yaml" --kubeconfig "$KUBECONFIG" \
    --hostname-override "$CL_NODE" --node-ip "$CL_NODE_IP" --root-dir "$CL_DIR/kubelet-root" \
    --cert-dir "$CL_DIR/kubelet"
  cat >"$CL_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: "$KUBECONFIG" }
hostnameOverride: $CL_NODE
mode: iptables
clusterCIDR: $CL_POD_CIDR
nodePortAddresses: [$CL_NODE_IP/32, 127.0.0.1/32]
metricsBindAddress: 127.0.0.1:$(free_ports 1)
healthzBindAddress: ""
conntrack: { maxPerCore: 0 }
EOF
  cl_start kube-proxy kube-proxy --config "$CL_DIR/kube-proxy.yaml"
  cl_wait 120 "node $CL_NODE Ready" \
    bash -c "[[ \$(kubectl get node $CL_NODE -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}') == True ]]" || return 1
  cl_wait 60 "the default ServiceAccount" kubectl get serviceaccount default -n default
}
