{{/* An alert's labels: its severity and prometheusRule.additionalAlertLabels (which cannot
replace the severity). Called with (list SEVERITY .Values.prometheusRule). */}}
{{- define "wetix-operator.alertLabels" -}}
{{- $labels := dict "severity" (index . 0) -}}
{{- $labels = merge $labels (deepCopy ((index . 1).additionalAlertLabels | default dict)) -}}
{{- toYaml $labels -}}
{{- end -}}
