{{/* Release-scoped name of a component: <release>-<component>, at most 63 characters. */}}
{{- define "conveyor.name" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels every object carries. */}}
{{- define "conveyor.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/part-of: conveyor
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
Labels of a pod template: the selector and what does not change between chart
versions or app versions, so an upgrade that changes nothing in a pod does not
roll it (the version labels stay on the workload object itself).
*/}}
{{- define "conveyor.podLabels" -}}
{{ include "conveyor.selector" . }}
app.kubernetes.io/part-of: conveyor
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* The immutable selector of a component (never changes between chart versions). */}}
{{- define "conveyor.selector" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* The Secret holding passwords and URLs with credentials. */}}
{{- define "conveyor.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" .Release.Name) -}}
{{- end -}}

{{/* Image of a service. */}}
{{- define "conveyor.image" -}}
{{- printf "%s/%s:%s" .root.Values.image.repository .name (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/*
Pod-level securityContext of every pod: uid, gid and fsGroup from
podSecurity for the services (dict "uid" "gid" "fsGroup"), or the image's own
user for the servers (gid and fsGroup default to the uid).
*/}}
{{- define "conveyor.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid | default .uid }}
fsGroup: {{ .fsGroup | default (.gid | default .uid) }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "conveyor.servicePodSecurityContext" -}}
{{- $p := .Values.podSecurity -}}
{{- include "conveyor.podSecurityContext" (dict "uid" $p.runAsUser "gid" $p.runAsGroup "fsGroup" $p.fsGroup) -}}
{{- end -}}

{{/* A memory quantity (Mi or Gi) in MiB. */}}
{{- define "conveyor.mebibytes" -}}
{{- $m := toString . -}}
{{- if hasSuffix "Gi" $m }}{{ mul (trimSuffix "Gi" $m | atoi) 1024 }}
{{- else if hasSuffix "Mi" $m }}{{ trimSuffix "Mi" $m | atoi }}
{{- else }}{{ fail (printf "memory limit %q: give it in Mi or Gi" $m) }}{{ end -}}
{{- end -}}

{{/* The PostgreSQL role of a service: its own (default: its database's name). */}}
{{- define "conveyor.postgresRole" -}}
{{- .svc.postgresUser | default (required (printf "services.%s uses postgresql but names no database" .name) .svc.database) -}}
{{- end -}}

{{/* The RabbitMQ user of a service (its name). */}}
{{- define "conveyor.rabbitmqUser" -}}
{{- .svc.rabbitmqUser | default .name -}}
{{- end -}}

{{/* Container-level securityContext of every container. */}}
{{- define "conveyor.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Hosts of the servers, in-cluster or managed. */}}
{{- define "conveyor.postgresHost" -}}
{{- if .Values.postgresql.enabled }}{{ include "conveyor.name" (dict "root" . "name" "postgresql") }}{{ else }}{{ required "postgresql.host is required when postgresql.enabled is false" .Values.postgresql.host }}{{ end -}}
{{- end -}}
{{- define "conveyor.redisUrl" -}}
{{- if .Values.redis.enabled }}{{ printf "redis://%s:%v" (include "conveyor.name" (dict "root" . "name" "redis")) .Values.redis.port }}{{ else }}{{ required "redis.url is required when redis.enabled is false" .Values.redis.url }}{{ end -}}
{{- end -}}
{{- define "conveyor.rabbitmqHost" -}}
{{- if .Values.rabbitmq.enabled }}{{ include "conveyor.name" (dict "root" . "name" "rabbitmq") }}{{ else }}{{ required "rabbitmq.host is required when rabbitmq.enabled is false" .Values.rabbitmq.host }}{{ end -}}
{{- end -}}
{{- define "conveyor.kafkaBrokers" -}}
{{- if .Values.kafka.enabled }}{{ printf "%s:%v" (include "conveyor.name" (dict "root" . "name" "kafka")) .Values.kafka.port }}{{ else }}{{ required "kafka.brokers is required when kafka.enabled is false" .Values.kafka.brokers }}{{ end -}}
{{- end -}}
{{- define "conveyor.otlpEndpoint" -}}
{{- if .Values.jaeger.enabled }}{{ printf "http://%s:4318" (include "conveyor.name" (dict "root" . "name" "jaeger")) }}{{ else }}{{ .Values.jaeger.otlpEndpoint }}{{ end -}}
{{- end -}}

{{/*
Environment of a service (and its migrations Job): HOST/PORT, the servers it
`uses`, the services it `calls`, AUTH_* (conveyor.authEnv), commonEnv, its own env. Secrets come by
secretKeyRef, never as plain values.
*/}}
{{- define "conveyor.serviceEnv" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
- name: HOST
  value: "0.0.0.0"
- name: PORT
  value: {{ $svc.port | quote }}
- name: METRICS_PORT
  value: {{ $root.Values.metrics.port | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ .name | quote }}
- name: SERVICE_VERSION
  value: {{ $root.Values.image.tag | default $root.Chart.AppVersion | quote }}
{{- with $svc.resources.limits.memory }}
{{- /* V8's heap stays under the container's limit (3/4 of it), so Node fails with a heap error, not an OOM kill. */}}
- name: NODE_OPTIONS
  value: {{ printf "--enable-source-maps --max-old-space-size=%d" (div (mul (include "conveyor.mebibytes" .) 3) 4) | quote }}
{{- with $svc.heapLimitEnv }}
{{- /* The service's own readiness threshold on its heap: 3/5 of the limit, below V8's. */}}
- name: {{ . }}
  value: {{ mul (div (mul (include "conveyor.mebibytes" $svc.resources.limits.memory) 3) 5) 1048576 | quote }}
{{- end }}
{{- end }}
- name: HTTP_TRUST_PROXY_HOPS
  value: {{ $root.Values.trustedProxyHops | default 0 | quote }}
{{- if or $root.Values.jaeger.enabled $root.Values.jaeger.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ include "conveyor.otlpEndpoint" $root | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- if has "postgresql" $svc.uses }}
- name: POSTGRES_HOST
  value: {{ include "conveyor.postgresHost" $root | quote }}
- name: POSTGRES_PORT
  value: {{ $root.Values.postgresql.port | quote }}
- name: POSTGRES_USER
  value: {{ include "conveyor.postgresRole" . | quote }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "conveyor.secretName" $root }}
      key: {{ printf "postgres-password-%s" .name }}
{{- with $svc.database }}
- name: POSTGRES_DB
  value: {{ . | quote }}
{{- end }}
{{- with $root.Values.postgresql.readReplica }}
{{- if .host }}
{{- /* Read by services whose config has postgresReplicaEnv (order); the others ignore it. */}}
- name: POSTGRES_REPLICA_HOST
  value: {{ .host | quote }}
- name: POSTGRES_REPLICA_PORT
  value: {{ .port | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if has "redis" $svc.uses }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "conveyor.secretName" $root }}
      key: REDIS_URL
{{- end }}
{{- if has "rabbitmq" $svc.uses }}
{{- if $root.Values.rabbitmq.enabled }}
{{- /* Its own user, password from the Secret; $(VAR) is expanded by the kubelet. */}}
- name: RABBITMQ_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "conveyor.secretName" $root }}
      key: {{ printf "rabbitmq-password-%s" .name }}
- name: RABBITMQ_URL
  value: {{ printf "amqp://%s:$(RABBITMQ_PASSWORD)@%s:%v" (include "conveyor.rabbitmqUser" .) (include "conveyor.rabbitmqHost" $root) $root.Values.rabbitmq.port | quote }}
{{- else }}
- name: RABBITMQ_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "conveyor.secretName" $root }}
      key: {{ printf "rabbitmq-url-%s" .name }}
{{- end }}
{{- end }}
{{- if has "kafka" $svc.uses }}
- name: KAFKA_BROKERS
  value: {{ include "conveyor.kafkaBrokers" $root | quote }}
- name: KAFKA_CLIENT_ID
  value: {{ .name | quote }}
{{- end }}
{{- range $env, $key := $svc.secretEnv }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ include "conveyor.secretName" $root }}
      key: {{ $key }}
{{- end }}
{{- range $prefix, $target := $svc.calls }}
{{- $callee := index $root.Values.services $target | required (printf "services.%s.calls.%s names an unknown service %q" $.name $prefix $target) }}
- name: {{ printf "%s_URL" $prefix }}
  value: {{ printf "http://%s:%v" (include "conveyor.name" (dict "root" $root "name" $target)) $callee.port | quote }}
{{- end }}
{{- include "conveyor.authEnv" (dict "root" $root "svc" $svc) }}
{{- with $svc.migrations }}{{ if .enabled }}
- name: POSTGRES_MIGRATIONS_RUN
  value: {{ if $.job }}"true"{{ else }}{{ $root.Values.postgresql.enabled | toString | quote }}{{ end }}
{{- end }}{{ end }}
{{- range $k, $v := .extra }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{/* Pod labels that open the NetworkPolicy doors this pod needs. */}}
{{- define "conveyor.flowLabels" -}}
{{- range .svc.uses }}
conveyor.io/uses-{{ . }}: "true"
{{- end }}
{{- /* One label per callee, however many prefixes name it (notification calls provider-sim as SMS and PUSH). */}}
{{- range $target := (values (.svc.calls | default dict)) | uniq | sortAlpha }}
conveyor.io/calls-{{ $target }}: "true"
{{- end }}
{{- end -}}

{{/*
Egress of a service (or its migrations Job): DNS, the servers it uses (their
pods when in-cluster, their port anywhere when managed), the services it calls,
and the trace collector.
*/}}
{{- define "conveyor.egress" -}}
{{- $root := .root -}}
- ports:
    - { port: 53, protocol: UDP }
    - { port: 53, protocol: TCP }
{{- range .svc.uses }}
{{- $server := index $root.Values . }}
{{- if $server.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "conveyor.selector" (dict "root" $root "name" .) | nindent 10 }}
  ports:
    - { port: {{ $server.port }}, protocol: TCP }
{{- else }}
- ports:
    - { port: {{ $server.port }}, protocol: TCP }
{{- end }}
{{- end }}
{{- range $target := (values (.svc.calls | default dict)) | uniq | sortAlpha }}
- to:
    - podSelector:
        matchLabels:
          {{- include "conveyor.selector" (dict "root" $root "name" $target) | nindent 10 }}
  ports:
    - { port: {{ (index $root.Values.services $target).port }}, protocol: TCP }
{{- end }}
{{- if $root.Values.jaeger.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "conveyor.selector" (dict "root" $root "name" "jaeger") | nindent 10 }}
  ports:
    - { port: 4318, protocol: TCP }
{{- else if $root.Values.jaeger.otlpEndpoint }}
{{- /* The collector's port, from its URL (any address): a fixed 4318/443 shut out a collector on another port. */}}
{{- $u := urlParse $root.Values.jaeger.otlpEndpoint }}
{{- $port := ternary "443" "80" (eq $u.scheme "https") }}
{{- if regexMatch ":[0-9]+$" $u.host }}{{ $port = regexFind "[0-9]+$" $u.host }}{{ end }}
- ports:
    - { port: {{ $port }}, protocol: TCP }
{{- end }}
{{- end -}}

{{/*
NetworkPolicy of an in-cluster server: ingress on its ports only from pods
labelled conveyor.io/uses-<server>=true (plus `extraIngress`), and no egress
beyond DNS (plus `egressSelf` for a server that talks to itself).
*/}}
{{- define "conveyor.serverPolicy" -}}
{{- if .root.Values.networkPolicy.enabled }}
{{- $ctx := dict "root" .root "name" .name }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "conveyor.name" $ctx }}
  labels:
    {{- include "conveyor.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "conveyor.selector" $ctx | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    {{- if .ports }}
    - from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/instance: {{ .root.Release.Name }}
              conveyor.io/uses-{{ .name }}: "true"
      ports:
        {{- range .ports }}
        - { port: {{ . }}, protocol: TCP }
        {{- end }}
    {{- end }}
    {{- with .extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    - ports:
        - { port: 53, protocol: UDP }
        - { port: 53, protocol: TCP }
    {{- if .egressSelf }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "conveyor.selector" $ctx | nindent 14 }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* Does a service verify bearer tokens? (`auth` unset counts as true: closed by default.) */}}
{{- define "conveyor.usesAuth" -}}
{{- if or (not (hasKey .svc "auth")) .svc.auth }}true{{ end -}}
{{- end -}}

{{/*
The Secret holding the JWKS (key jwks.json), or "" when the keys come from
auth.jwksUrl. Fails the render, naming the values, when an enabled service
verifies tokens and no JWKS source (or more than one) is given.
*/}}
{{- define "conveyor.jwksSecretName" -}}
{{- $auth := .Values.auth -}}
{{- $needs := list -}}
{{- range $name, $svc := .Values.services }}{{ if and $svc.enabled (include "conveyor.usesAuth" (dict "svc" $svc)) }}{{ $needs = append $needs $name }}{{ end }}{{ end -}}
{{- $sources := list -}}
{{- if $auth.existingJwksSecret }}{{ $sources = append $sources "auth.existingJwksSecret" }}{{ end -}}
{{- if $auth.jwks }}{{ $sources = append $sources "auth.jwks" }}{{ end -}}
{{- if $auth.jwksUrl }}{{ $sources = append $sources "auth.jwksUrl" }}{{ end -}}
{{- if and $needs (eq (len $sources) 0) }}
{{- fail (printf "auth: %s verif%s bearer tokens and no JWKS is given (in production the service exits 78 at start). Set one of: auth.existingJwksSecret (a Secret with the key jwks.json), auth.jwks (--set-file auth.jwks=<jwks.json>, e.g. from `node deploy/local/keys.mjs ensure`), or auth.jwksUrl (your identity provider's JWKS URL)" (join ", " $needs) (ternary "ies" "y" (eq (len $needs) 1))) }}
{{- end }}
{{- if gt (len $sources) 1 }}
{{- fail (printf "auth: give one JWKS source, not %s" (join " and " $sources)) }}
{{- end }}
{{- if $auth.existingJwksSecret }}{{ $auth.existingJwksSecret }}
{{- else if $auth.jwks }}{{ printf "%s-auth-jwks" .Release.Name }}
{{- end }}
{{- end -}}

{{/* Where the JWKS Secret is mounted in a pod (read-only). */}}
{{- define "conveyor.jwksDir" -}}/etc/conveyor/auth{{- end -}}

{{/* AUTH_* env of a service that verifies tokens (or its migrations Job: same config). */}}
{{- define "conveyor.authEnv" -}}
{{- $root := .root -}}
{{- if include "conveyor.usesAuth" (dict "svc" .svc) }}
{{- $secret := include "conveyor.jwksSecretName" $root }}
{{- if $secret }}
- name: AUTH_JWKS_FILE
  value: {{ printf "%s/jwks.json" (include "conveyor.jwksDir" $root) | quote }}
{{- else }}
- name: AUTH_JWKS_URL
  value: {{ $root.Values.auth.jwksUrl | quote }}
{{- end }}
- name: AUTH_ISSUER
  value: {{ $root.Values.auth.issuer | quote }}
- name: AUTH_AUDIENCE
  value: {{ $root.Values.auth.audience | quote }}
- name: AUTH_CLOCK_SKEW_S
  value: {{ ternary $root.Values.auth.clockSkewSeconds 30 (hasKey $root.Values.auth "clockSkewSeconds") | toString | quote }}
{{- end }}
{{- end -}}

{{/* volumeMounts / volumes entries for the JWKS Secret (nothing with a JWKS URL). */}}
{{- define "conveyor.authVolumeMount" -}}
{{- if and (include "conveyor.usesAuth" (dict "svc" .svc)) (include "conveyor.jwksSecretName" .root) }}
- { name: auth-jwks, mountPath: {{ include "conveyor.jwksDir" .root }}, readOnly: true }
{{- end }}
{{- end -}}
{{- define "conveyor.authVolume" -}}
{{- $secret := include "conveyor.jwksSecretName" .root }}
{{- if and (include "conveyor.usesAuth" (dict "svc" .svc)) $secret }}
- name: auth-jwks
  secret:
    secretName: {{ $secret }}
    items: [{ key: jwks.json, path: jwks.json }]
    defaultMode: 0444
{{- end }}
{{- end -}}

{{/* Egress to the identity provider's JWKS URL (its port, any address). */}}
{{- define "conveyor.authEgress" -}}
{{- if and (include "conveyor.usesAuth" (dict "svc" .svc)) .root.Values.auth.jwksUrl }}
{{- $u := urlParse .root.Values.auth.jwksUrl }}
{{- $port := ternary "443" "80" (eq $u.scheme "https") }}
{{- if regexMatch ":[0-9]+$" $u.host }}{{ $port = regexFind "[0-9]+$" $u.host }}{{ end }}
- ports:
    - { port: {{ $port }}, protocol: TCP }
{{- end }}
{{- end -}}
