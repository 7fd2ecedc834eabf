{{/* Name of every namespaced object and of the cluster-scoped RBAC objects. */}}
{{- define "wetix-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "wetix-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "wetix-operator.labels" -}}
{{ include "wetix-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/*
The rules the operator needs on the credentials' namespaces, shared by the ClusterRole
(cluster-wide) and the per-namespace Roles (namespaces set). See deploy/base/rbac.yaml for
why each verb is there.
*/}}
{{- define "wetix-operator.rules" -}}
- apiGroups: ["wetix.my"]
  resources: ["wetixcredentials"]
  verbs: ["list", "watch"]
- apiGroups: ["wetix.my"]
  resources: ["wetixcredentials/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["get", "patch"]
{{- end -}}
