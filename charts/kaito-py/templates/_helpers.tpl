{{/*
Names are fixed, as in manifests/: the operator is cluster-wide (its CRDs and ClusterRole), so a cluster
holds one release of this chart, and the leader-election Role names the Lease kaito-operator.
*/}}

{{/* The labels every pod of the controller carries and the Deployment selects (immutable: as in manifests/). */}}
{{- define "kaito-py.selectorLabels" -}}
app.kubernetes.io/name: kaito
app.kubernetes.io/component: controller
{{- end -}}

{{/* The labels of every object of the release. */}}
{{- define "kaito-py.labels" -}}
{{ include "kaito-py.selectorLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The controller image, the chart's appVersion when image.tag is empty. */}}
{{- define "kaito-py.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Combinations of values the schema cannot refuse with a sentence. */}}
{{- define "kaito-py.validate" -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled is true but metrics.service.enabled is false; a ServiceMonitor scrapes the metrics Service, so enable both or neither" -}}
{{- end -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) -}}
{{- fail (printf "replicaCount is %d with leaderElection.enabled false; replicas would reconcile at the same time, so set replicaCount to 0 or 1, or enable leader election" (int .Values.replicaCount)) -}}
{{- end -}}
{{- end -}}
