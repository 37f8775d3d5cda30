{{/* Names: the release's full name, shortened to 63 characters for DNS. */}}
{{- define "goldenshot.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "goldenshot.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "goldenshot.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "goldenshot.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", e.g. plant-a-goldenshot-scorer. Call with (dict "root" $ "component" "scorer"). */}}
{{- define "goldenshot.componentName" -}}
{{- printf "%s-%s" (include "goldenshot.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "goldenshot.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: goldenshot
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "goldenshot.selectorLabels" . }}
{{- end }}

{{- define "goldenshot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "goldenshot.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selects every goldenshot service pod of this release (ingest, builder, scorer; not Triton). */}}
{{- define "goldenshot.servicePodsSelector" -}}
matchExpressions:
  - {key: app.kubernetes.io/name, operator: In, values: [{{ include "goldenshot.name" . }}]}
  - {key: app.kubernetes.io/instance, operator: In, values: [{{ .Release.Name }}]}
  - {key: app.kubernetes.io/component, operator: In, values: [ingest, builder, scorer]}
{{- end }}

{{/* Image reference of a component: registry/repository:tag, or @digest when one is given. */}}
{{- define "goldenshot.image" -}}
{{- $image := .values.image }}
{{- $repository := $image.repository }}
{{- if .root.Values.image.registry }}{{ $repository = printf "%s/%s" (trimSuffix "/" .root.Values.image.registry) $image.repository }}{{ end }}
{{- if $image.digest }}
{{- printf "%s@%s" $repository $image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (default (default .root.Chart.AppVersion .root.Values.image.tag) $image.tag) }}
{{- end }}
{{- end }}

{{- define "goldenshot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "goldenshot.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The credentials Secret: an existing one, or "<release>-credentials" made by templates/secret.yaml.
     The bundled subcharts compute the same name (each subchart's _helpers.tpl). */}}
{{- define "goldenshot.secretName" -}}
{{- default (printf "%s-credentials" .Release.Name) .Values.global.credentials.existingSecret }}
{{- end }}

{{/* Backend endpoints: the bundled subchart's Service when enabled, else the configured external one. */}}
{{- define "goldenshot.s3Endpoint" -}}
{{- if .Values.minio.enabled }}{{ printf "%s-minio:9000" .Release.Name }}{{ else }}{{ required "objectStore.endpoint (host:port) is required" .Values.objectStore.endpoint }}{{ end }}
{{- end }}

{{- define "goldenshot.qdrantUrl" -}}
{{- if .Values.qdrant.enabled }}{{ printf "http://%s-qdrant:6333" .Release.Name }}{{ else }}{{ required "vectorStore.url is required" .Values.vectorStore.url }}{{ end }}
{{- end }}

{{- define "goldenshot.natsUrl" -}}
{{- if .Values.nats.enabled }}{{ printf "nats://%s-nats:4222" .Release.Name }}{{ else }}{{ required "bus.url is required" .Values.bus.url }}{{ end }}
{{- end }}

{{/* host:port of Triton's gRPC, or empty: features computed in-process. */}}
{{- define "goldenshot.tritonUrl" -}}
{{- if .Values.triton.enabled }}{{ printf "%s:8001" (include "goldenshot.componentName" (dict "root" . "component" "triton")) }}{{ else }}{{ .Values.triton.externalUrl }}{{ end }}
{{- end }}

{{/* Pod-level parts shared by every goldenshot service pod. Call with (dict "root" $ "values" $c). */}}
{{- define "goldenshot.podCommon" -}}
serviceAccountName: {{ include "goldenshot.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
