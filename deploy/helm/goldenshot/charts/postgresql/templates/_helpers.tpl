{{- define "postgresql.fullname" -}}
{{- printf "%s-postgresql" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "postgresql.selectorLabels" -}}
app.kubernetes.io/name: postgresql
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "postgresql.labels" -}}
{{ include "postgresql.selectorLabels" . }}
app.kubernetes.io/part-of: goldenshot
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The parent chart's credentials Secret (goldenshot.secretName computes the same name). */}}
{{- define "postgresql.secretName" -}}
{{- default (printf "%s-credentials" .Release.Name) (dig "credentials" "existingSecret" "" (.Values.global | default dict)) }}
{{- end }}

{{- define "postgresql.volumeClaim" -}}
- metadata:
    name: data
    labels:
      {{- include "postgresql.selectorLabels" . | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .Values.persistence.storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .Values.persistence.size }}
{{- end }}
