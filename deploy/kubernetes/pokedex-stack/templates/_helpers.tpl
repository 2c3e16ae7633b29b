{{/* Names: <release>-<component>, cut to the 63 characters a DNS label allows. */}}
{{- define "pokedex.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pokedex.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "pokedex.labels" -}}
{{ include "pokedex.selectorLabels" . }}
app.kubernetes.io/part-of: pokedex-stack
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* One of our images: registry/pokedex-stack/<name>:<tag>. */}}
{{- define "pokedex.image" -}}
{{- $registry := .root.Values.image.registry | trimSuffix "/" -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if $registry -}}
{{ printf "%s/pokedex-stack/%s:%s" $registry .name $tag }}
{{- else -}}
{{ printf "pokedex-stack/%s:%s" .name $tag }}
{{- end -}}
{{- end -}}

{{/* The restricted Pod Security profile, for a pod and for a container. */}}
{{- define "pokedex.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pokedex.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "pokedex.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: {{ .root.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "pokedex.selectorLabels" . | nindent 8 }}
  - maxSkew: {{ .root.Values.topologySpread.maxSkew }}
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "pokedex.selectorLabels" . | nindent 8 }}
{{- end -}}

{{/* Where the services send OTLP/HTTP; empty when nowhere. */}}
{{- define "pokedex.otlpEndpoint" -}}
{{- if .Values.telemetry.otlpEndpoint -}}
{{ .Values.telemetry.otlpEndpoint }}
{{- else if .Values.otelCollector.enabled -}}
{{ printf "http://%s:4318" (include "pokedex.fullname" (dict "root" . "component" "otel-collector")) }}
{{- else if .Values.jaeger.enabled -}}
{{ printf "http://%s:4318" (include "pokedex.fullname" (dict "root" . "component" "jaeger")) }}
{{- end -}}
{{- end -}}

{{/* The OTLP settings every service of ours gets. */}}
{{- define "pokedex.otelEnv" -}}
{{- $endpoint := include "pokedex.otlpEndpoint" .root -}}
- name: OTEL_SERVICE_NAME
  value: {{ .service }}
{{- if $endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $endpoint | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .root.Values.telemetry.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .root.Values.telemetry.samplerArg | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end -}}

{{/* Egress to the trace backend, as NetworkPolicy rules. */}}
{{- define "pokedex.otlpEgress" -}}
{{- if .Values.telemetry.otlpEndpoint }}
{{- if .Values.telemetry.networkPolicyPeers }}
- to:
    {{- toYaml .Values.telemetry.networkPolicyPeers | nindent 4 }}
{{- end }}
{{- else if or .Values.otelCollector.enabled .Values.jaeger.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "pokedex.selectorLabels" (dict "root" . "component" (ternary "otel-collector" "jaeger" .Values.otelCollector.enabled)) | nindent 10 }}
  ports:
    - {protocol: TCP, port: 4318}
{{- end }}
{{- end -}}

{{- define "pokedex.databaseHost" -}}
{{- if eq .Values.database.mode "internal" -}}
{{ include "pokedex.fullname" (dict "root" . "component" "mariadb") }}
{{- else -}}
{{ required "database.external.host is required when database.mode is external" .Values.database.external.host }}
{{- end -}}
{{- end -}}

{{- define "pokedex.databasePort" -}}
{{- if eq .Values.database.mode "internal" -}}3306{{- else -}}{{ .Values.database.external.port }}{{- end -}}
{{- end -}}

{{- define "pokedex.databaseSecret" -}}
{{ required "database.existingSecret is required: a Secret holding the database passwords (docs/kubernetes.md)" .Values.database.existingSecret }}
{{- end -}}

{{/* Alertmanager matcher strings (name="value", =~, !=, !~) as the Operator's matcher objects. */}}
{{- define "pokedex.matchers" -}}
{{- range $matcher := . }}
{{- $name := regexFind "^[A-Za-z_][A-Za-z0-9_]*" $matcher }}
{{- $rest := trimPrefix $name $matcher }}
{{- $op := regexFind "^(=~|!~|!=|=)" $rest }}
{{- $value := trimPrefix $op $rest | trimPrefix "\"" | trimSuffix "\"" }}
- {name: {{ $name }}, value: {{ $value | quote }}, matchType: {{ $op | quote }}}
{{- end }}
{{- end -}}

{{/*
A volume of one key of a Secret, as YAML (read it back with fromYaml): name,
secret, key. Mode 0440 (288): its owner and the pod's group read it, nobody else.
*/}}
{{- define "pokedex.secretVolume" -}}
{{- toYaml (dict "name" .name "secret" (dict "secretName" .secret "defaultMode" 288 "items" (list (dict "key" .key "path" .key)))) -}}
{{- end -}}
