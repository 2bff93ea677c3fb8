# Every rendered manifest, one document at a time:
#   conftest test --namespace conveyor.kubernetes rendered.yaml
package conveyor.kubernetes

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}

# The pod spec of a workload or a bare Pod.
pod_spec := input.spec.template.spec if workload_kinds[input.kind]

pod_spec := input.spec if input.kind == "Pod"

name := sprintf("%s/%s", [input.kind, input.metadata.name])

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

long_running if input.kind in {"Deployment", "StatefulSet", "DaemonSet"}

secret_name(n) if regex.match(`(?i)(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)`, n)

# --- non-root --------------------------------------------------------------
deny contains msg if {
  pod_spec
  some c in containers
  not object.get(c, ["securityContext", "runAsNonRoot"], object.get(pod_spec, ["securityContext", "runAsNonRoot"], false))
  msg := sprintf("%s: container %s may run as root (runAsNonRoot is not true)", [name, c.name])
}

deny contains msg if {
  pod_spec
  some c in containers
  object.get(c, ["securityContext", "runAsUser"], object.get(pod_spec, ["securityContext", "runAsUser"], -1)) == 0
  msg := sprintf("%s: container %s runs as root (runAsUser 0)", [name, c.name])
}

deny contains msg if {
  pod_spec
  some c in containers
  object.get(c, ["securityContext", "allowPrivilegeEscalation"], true) != false
  msg := sprintf("%s: container %s allows privilege escalation", [name, c.name])
}

deny contains msg if {
  pod_spec
  some c in containers
  not "ALL" in object.get(c, ["securityContext", "capabilities", "drop"], [])
  msg := sprintf("%s: container %s does not drop ALL capabilities", [name, c.name])
}

deny contains msg if {
  pod_spec
  object.get(pod_spec, ["securityContext", "seccompProfile", "type"], "") != "RuntimeDefault"
  msg := sprintf("%s: the pod's seccompProfile is not RuntimeDefault", [name])
}

# --- read-only root filesystem -----------------------------------------------
deny contains msg if {
  pod_spec
  some c in containers
  object.get(c, ["securityContext", "readOnlyRootFilesystem"], false) != true
  msg := sprintf("%s: container %s has a writable root filesystem", [name, c.name])
}

# --- resources ---------------------------------------------------------------
deny contains msg if {
  pod_spec
  some c in containers
  some r in ["cpu", "memory"]
  not c.resources.requests[r]
  msg := sprintf("%s: container %s has no %s request", [name, c.name, r])
}

deny contains msg if {
  pod_spec
  some c in containers
  not c.resources.limits.memory
  msg := sprintf("%s: container %s has no memory limit", [name, c.name])
}

# --- probes ------------------------------------------------------------------
deny contains msg if {
  long_running
  some c in pod_spec.containers
  some p in ["livenessProbe", "readinessProbe"]
  not c[p]
  msg := sprintf("%s: container %s has no %s", [name, c.name, p])
}

# --- images ------------------------------------------------------------------
deny contains msg if {
  pod_spec
  some c in containers
  endswith(c.image, ":latest")
  msg := sprintf("%s: container %s uses the latest tag (%s)", [name, c.name, c.image])
}

deny contains msg if {
  pod_spec
  some c in containers
  not contains(c.image, "@sha256:")
  not regex.match(`:[^/]+$`, c.image)
  msg := sprintf("%s: container %s has an untagged image (%s)", [name, c.name, c.image])
}

# --- no secrets in plain values ----------------------------------------------
deny contains msg if {
  pod_spec
  some c in containers
  some e in c.env
  secret_name(e.name)
  e.value
  msg := sprintf("%s: container %s has %s as a plain env value (use secretKeyRef)", [name, c.name, e.name])
}

deny contains msg if {
  pod_spec
  some c in containers
  some e in c.env
  v := object.get(e, "value", "")
  regex.match(`://[^/:@\s]+:[^/@\s]+@`, v)
  # a password given as $(VAR), expanded by the kubelet from a secretKeyRef variable, is not a plain value
  not regex.match(`://[^/:@\s]+:\$\([A-Za-z_][A-Za-z0-9_]*\)@`, v)
  msg := sprintf("%s: container %s has credentials in the URL of %s", [name, c.name, e.name])
}

deny contains msg if {
  input.kind == "ConfigMap"
  some k, v in input.data
  secret_name(k)
  msg := sprintf("%s: %s looks like a secret; ConfigMaps are not for secrets", [name, k])
}

# --- memory: heaps below the container's limit ----------------------------------
limit_bytes(c) := units.parse_bytes(c.resources.limits.memory)

deny contains msg if {
  pod_spec
  some c in containers
  some e in c.env
  e.name == "NODE_OPTIONS"
  [_, mib] := regex.find_all_string_submatch_n(`--max-old-space-size=([0-9]+)`, e.value, 1)[0]
  to_number(mib) * 1048576 >= limit_bytes(c)
  msg := sprintf("%s: container %s lets V8's heap grow to %s MiB, not below its memory limit %s", [name, c.name, mib, c.resources.limits.memory])
}

deny contains msg if {
  pod_spec
  some c in containers
  some e in c.env
  endswith(e.name, "_HEAP_LIMIT_BYTES")
  to_number(e.value) >= limit_bytes(c)
  msg := sprintf("%s: container %s has %s=%s, not below its memory limit %s", [name, c.name, e.name, e.value, c.resources.limits.memory])
}

deny contains msg if {
  pod_spec
  some c in containers
  startswith(c.image, "conveyor/")
  not "NODE_OPTIONS" in {e.name | some e in c.env}
  msg := sprintf("%s: container %s (Node) has no NODE_OPTIONS --max-old-space-size under its memory limit", [name, c.name])
}

# --- upgrades: a pod template's labels do not change with the chart's version ---
deny contains msg if {
  workload_kinds[input.kind]
  some k in ["helm.sh/chart", "app.kubernetes.io/version"]
  input.spec.template.metadata.labels[k]
  msg := sprintf("%s: its pod template carries %s, so every chart release rolls its pods", [name, k])
}
