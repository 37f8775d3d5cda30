{{- define "qdrant.fullname" -}}
{{- printf "%s-qdrant" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "qdrant.selectorLabels" -}}
app.kubernetes.io/name: qdrant
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "qdrant.labels" -}}
{{ include "qdrant.selectorLabels" . }}
app.kubernetes.io/part-of: goldenshot
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* The parent chart's credentials Secret (goldenshot.secretName computes the same name). */}}
{{- define "qdrant.secretName" -}}
{{- default (printf "%s-credentials" .Release.Name) (dig "credentials" "existingSecret" "" (.Values.global | default dict)) }}
{{- end }}

{{- define "qdrant.volumeClaim" -}}
- metadata:
    name: data
    labels:
      {{- include "qdrant.selectorLabels" . | nindent 6 }}
  spec:
    accessModes: [ReadWriteOnce]
    {{- with .Values.persistence.storageClass }}
    storageClassName: {{ . }}
    {{- end }}
    resources:
      requests:
        storage: {{ .Values.persistence.size }}
{{- end }}
