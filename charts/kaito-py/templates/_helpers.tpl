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

{{/* The labels of the webhook's objects (its Service, configuration and certificate Roles), as in manifests/webhook. */}}
{{- define "kaito-py.webhookLabels" -}}
{{ include "kaito-py.labels" . | fromYaml | merge (dict "app.kubernetes.io/component" "webhook") | toYaml }}
{{- end -}}

{{/* The Service kube-apiserver calls for admission and conversion; `kaito manifests crds` writes this name
into the Workspace CRD's conversion stanza, and the operator patches the caBundle of whatever names it. */}}
{{- define "kaito-py.webhookService" -}}
kaito-webhook-service
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
{{- if and .Values.webhook.enabled (has (int .Values.webhook.port) (list 8080 8081)) -}}
{{- fail (printf "webhook.port is %d, the port of the controller's %s; choose another port from 1024 to 65535" (int .Values.webhook.port) (ternary "metrics" "health probes" (eq (int .Values.webhook.port) 8080))) -}}
{{- end -}}
{{- end -}}
