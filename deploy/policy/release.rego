# The release as a whole (conftest --combine): input is a list of
# {path, contents} with every rendered document.
package conveyor.release

import rego.v1

docs := [d.contents | some d in input; d.contents]

selects_all(np) if {
  np.kind == "NetworkPolicy"
  count(object.get(np.spec.podSelector, "matchExpressions", [])) == 0
  labels := object.get(np.spec.podSelector, "matchLabels", {})
  count([k | some k, _ in labels; k != "app.kubernetes.io/instance"]) == 0
  {"Ingress", "Egress"} == {t | some t in np.spec.policyTypes}
  not np.spec.ingress
  not np.spec.egress
}

deny contains "no default-deny NetworkPolicy (ingress and egress) selects every pod of the release" if {
  count([d | some d in docs; selects_all(d)]) == 0
}

workloads := {"Deployment", "StatefulSet", "DaemonSet"}

deny contains msg if {
  some w in docs
  w.kind in workloads
  labels := w.spec.template.metadata.labels
  count([np |
    some np in docs
    np.kind == "NetworkPolicy"
    not selects_all(np)
    every k, v in object.get(np.spec.podSelector, "matchLabels", {}) { labels[k] == v }
  ]) == 0
  msg := sprintf("%s/%s: no NetworkPolicy allows its flows (it would be cut off by default-deny)", [w.kind, w.metadata.name])
}
