# docker/Dockerfile: conftest test --namespace conveyor.dockerfile docker/Dockerfile
# (input: one list of instructions, each {Cmd, Value, Stage, Flags}).
package conveyor.dockerfile

import rego.v1

instructions := [i | some stage in input; some i in stage] if is_array(input[0])

instructions := input if not is_array(input[0])

last_stage := max({i.Stage | some i in instructions})

final := [i | some i in instructions; i.Stage == last_stage]

users := [i.Value[0] | some i in final; i.Cmd == "user"]

deny contains "the final stage has no USER: it would run as root" if count(users) == 0

deny contains msg if {
  count(users) > 0
  u := split(users[count(users) - 1], ":")[0]
  u in {"root", "0"}
  msg := sprintf("the final stage runs as root (USER %s)", [users[count(users) - 1]])
}

deny contains msg if {
  count(users) > 0
  u := users[count(users) - 1]
  not regex.match(`^[0-9]+(:[0-9]+)?$`, u)
  msg := sprintf("USER %s is not numeric: Kubernetes' runAsNonRoot can only check a number", [u])
}

deny contains "no HEALTHCHECK" if count([i | some i in instructions; i.Cmd == "healthcheck"]) == 0

# FROM lines: a tag or a digest, never latest (an ARG default counts).
from_image(i) := img if {
  i.Cmd == "from"
  raw := i.Value[0]
  not startswith(raw, "$")
  img := raw
}

from_image(i) := img if {
  i.Cmd == "from"
  startswith(i.Value[0], "$")
  argname := trim(i.Value[0], "${}")
  some a in instructions
  a.Cmd == "arg"
  startswith(a.Value[0], sprintf("%s=", [argname]))
  img := substring(a.Value[0], count(argname) + 1, -1)
}

stage_names := {lower(i.Value[2]) | some i in instructions; i.Cmd == "from"; count(i.Value) == 3}

deny contains msg if {
  some i in instructions
  img := from_image(i)
  not stage_names[lower(img)]
  endswith(img, ":latest")
  msg := sprintf("FROM %s: the latest tag", [img])
}

deny contains msg if {
  some i in instructions
  img := from_image(i)
  not stage_names[lower(img)]
  not contains(img, "@sha256:")
  not regex.match(`:[^/]+$`, img)
  msg := sprintf("FROM %s: no tag", [img])
}

secret_name(n) if regex.match(`(?i)^[A-Z0-9_]*(PASSWORD|SECRET|TOKEN|API_?KEY)[A-Z0-9_]*$`, n)

# ARG NAME=value
deny contains msg if {
  some i in instructions
  i.Cmd == "arg"
  some v in i.Value
  parts := split(v, "=")
  count(parts) > 1
  secret_name(parts[0])
  msg := sprintf("ARG %s: a secret baked into the image", [parts[0]])
}

# ENV NAME=value … (the parser gives name, value, name, value, …)
deny contains msg if {
  some i in instructions
  i.Cmd == "env"
  some k, v in i.Value
  k % 2 == 0
  secret_name(v)
  msg := sprintf("ENV %s: a secret baked into the image", [v])
}
