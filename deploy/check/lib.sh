# shellcheck shell=bash
# Shared by deploy/check/*: paths, the tool binaries, TAP-like result lines.
# Each check prints "ok - <what>" or "not ok - <what>"; tools/deploy.test.sh
# counts them.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHART=$ROOT/helm/conveyor
CACHE=${CONVEYOR_CACHE_DIR:-$ROOT/.cache}
export CONVEYOR_CACHE_DIR=$CACHE

passed=${passed:-0}
failed=${failed:-0}

say() { echo "# $*"; }
die() { echo "deploy/check: $*" >&2; exit 1; }

# check <what> <command...>: the command must succeed.
check() {
  local what=$1 out; shift
  if out=$("$@" 2>&1); then
    echo "ok - $what"; passed=$((passed + 1))
  else
    echo "not ok - $what"; failed=$((failed + 1))
    tail -n 25 <<<"$out" | sed 's/^/#   /'
  fi
}
# bites <what> <pattern> <command...>: the command must FAIL, saying <pattern>
# (the proof that a validator rejects a deliberate error).
bites() {
  local what=$1 pattern=$2 out; shift 2
  if out=$("$@" 2>&1); then
    echo "not ok - $what (the check passed a deliberate error)"; failed=$((failed + 1))
  elif grep -Eq -- "$pattern" <<<"$out"; then
    echo "ok - $what"; passed=$((passed + 1))
  else
    echo "not ok - $what (failed, but without /$pattern/)"; failed=$((failed + 1))
    tail -n 15 <<<"$out" | sed 's/^/#   /'
  fi
}

# The Go-built tools (first run builds them; later runs find them cached).
tools_path() {
  local bin
  bin=$("$ROOT/deploy/tools/install" "$@") || die "could not build the tools"
  export PATH="$bin:$PATH"
}

# Free loopback ports, asked of the OS.
free_ports() { # <count>
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]);
    Promise.all(Array.from({ length: n }, () => new Promise((res) => {
      const s = net.createServer().listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => res(p)); });
    }))).then((ps) => console.log(ps.join(" ")));
  ' "$1"
}

# helm-unittest as a helm plugin from a local directory.
helm_plugins() {
  local dir=$CACHE/deploy-tools/helm-plugins
  mkdir -p "$dir/unittest"
  if ! cmp -s "$(command -v helm-unittest)" "$dir/unittest/helm-unittest"; then
    cp "$(command -v helm-unittest)" "$dir/unittest/helm-unittest"
  fi
  cat >"$dir/unittest/plugin.yaml" <<'EOF'
name: unittest
version: 1.1.2
usage: unit tests for helm charts
description: helm-unittest, built from the Go module proxy by deploy/tools/install
command: "$HELM_PLUGIN_DIR/helm-unittest"
EOF
  export HELM_PLUGINS=$dir
}

# Kubernetes JSON schemas from the PyPI package kubernetes-validate, made usable
# by kubeconform's -schema-location: their $ref are absolute (/api/_definitions.json)
# and their $id are URLs; both are rewritten to local relative ones.
K8S_SCHEMA_PKG=1.37.0
K8S_SCHEMA_VERSION=v1.37.0
schemas_dir() {
  local dir=$CACHE/deploy-tools/k8s-schemas/$K8S_SCHEMA_VERSION-local-strict tmp
  if [[ ! -f $dir/.done ]]; then
    command -v python3 >/dev/null || die "python3 is needed to fetch kubernetes-validate"
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --no-deps --disable-pip-version-check \
      "kubernetes-validate==$K8S_SCHEMA_PKG" -d "$tmp" >&2 || die "pip download kubernetes-validate failed"
    python3 - "$tmp"/kubernetes_validate-*.whl "$dir" "$K8S_SCHEMA_VERSION-local-strict" <<'PY' || die "schema conversion failed"
import json, os, sys, zipfile
whl, dest, version = sys.argv[1:]
prefix = f"kubernetes_validate/kubernetes-json-schema/{version}/"
os.makedirs(dest, exist_ok=True)
n = 0
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or not name.endswith(".json"):
            continue
        doc = json.loads(z.read(name))
        doc.pop("$id", None)
        text = json.dumps(doc).replace('"/api/_definitions.json#', '"_definitions.json#')
        with open(os.path.join(dest, name[len(prefix):]), "w") as f:
            f.write(text)
        n += 1
print(f"schemas: {n} files", file=sys.stderr)
PY
    rm -rf "$tmp"
    touch "$dir/.done"
  fi
  echo "$dir"
}

# Renders the chart with a values file (or none) into <out>.
render() { # <out> [values files...]
  local out=$1 args=(); shift
  local f; for f in "$@"; do args+=(-f "$f"); done
  helm template conveyor "$CHART" --namespace conveyor "${args[@]}" >"$out"
}
