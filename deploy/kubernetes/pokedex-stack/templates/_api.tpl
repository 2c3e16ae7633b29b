{{/*
One of the two APIs: Deployment, Service, PodDisruptionBudget and
HorizontalPodAutoscaler. Called with root, component (the Kubernetes name and
job label), image, values (its block of values.yaml), and lists of its own:
env (name/value maps), secretVolumes and mounts (either may be empty), and
adminTokenVariable: the variable naming the fault admin API's token file,
set with its Secret volume and mount when faults.existingSecret is.
*/}}
{{- define "pokedex.api" -}}
{{- $root := .root -}}
{{- $ctx := dict "root" $root "component" .component -}}
{{- $values := .values -}}
{{- $env := .env -}}
{{- $secretVolumes := .secretVolumes -}}
{{- $mounts := .mounts -}}
{{- with $root.Values.faults.existingSecret -}}
{{- $env = append $env (dict "name" $.adminTokenVariable "value" (printf "/run/secrets/faults/%s" $root.Values.faults.tokenKey)) -}}
{{- $secretVolumes = append $secretVolumes (include "pokedex.secretVolume" (dict "name" "faults" "secret" . "key" $root.Values.faults.tokenKey) | fromYaml) -}}
{{- $mounts = append $mounts (dict "name" "faults" "mountPath" "/run/secrets/faults" "readOnly" true) -}}
{{- end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "pokedex.fullname" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pokedex.labels" $ctx | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicas }}
  {{- end }}
  revisionHistoryLimit: 3
  selector:
    matchLabels:
      {{- include "pokedex.selectorLabels" $ctx | nindent 6 }}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels:
        {{- include "pokedex.labels" $ctx | nindent 8 }}
    spec:
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "pokedex.podSecurityContext" (dict "uid" 10001) | nindent 8 }}
      {{- include "pokedex.topologySpread" $ctx | nindent 6 }}
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    {{- include "pokedex.selectorLabels" $ctx | nindent 20 }}
      containers:
        - name: {{ .component }}
          image: {{ include "pokedex.image" (dict "root" $root "name" .image) }}
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          ports:
            - {name: http, containerPort: {{ $values.port }}, protocol: TCP}
          env:
            {{- toYaml $env | nindent 12 }}
            {{- include "pokedex.otelEnv" (dict "root" $root "service" .component) | nindent 12 }}
            {{- range $name, $value := $values.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
          # Ready: able to serve (its dependencies answer). Live: the process
          # answers at all. A database outage makes pods unready, never
          # restarts them.
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 2
            failureThreshold: 2
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          resources:
            {{- toYaml $values.resources | nindent 12 }}
          securityContext:
            {{- include "pokedex.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            - {name: tmp, mountPath: /tmp}
            {{- with $mounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {sizeLimit: 16Mi, medium: Memory}
        {{- with $secretVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ include "pokedex.fullname" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pokedex.labels" $ctx | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "pokedex.selectorLabels" $ctx | nindent 4 }}
  ports:
    - {name: http, port: {{ $values.port }}, targetPort: http, protocol: TCP}
{{- if $values.podDisruptionBudget.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "pokedex.fullname" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pokedex.labels" $ctx | nindent 4 }}
spec:
  minAvailable: {{ $values.podDisruptionBudget.minAvailable }}
  selector:
    matchLabels:
      {{- include "pokedex.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- if $values.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "pokedex.fullname" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "pokedex.labels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "pokedex.fullname" $ctx }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
{{- end }}
{{- end -}}
