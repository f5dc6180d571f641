{{- define "dirbridge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dirbridge.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dirbridge.labels" -}}
{{ include "dirbridge.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dirbridge.sqlite" -}}
{{- if eq (dig "store" "driver" "sqlite" .Values.config) "sqlite" -}}true{{- end -}}
{{- end -}}

{{- define "dirbridge.image" -}}
{{- $d := required "image.digest is required: the chart pins the image by digest" .Values.image.digest -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" $d) -}}
{{- fail (printf "image.digest %q is not sha256:<64 hex digits>" $d) -}}
{{- end -}}
{{- printf "%s@%s" .Values.image.repository $d -}}
{{- end -}}

{{- /* dirbridge.port is the port of a host:port listen address. */ -}}
{{- define "dirbridge.port" -}}
{{- $p := regexReplaceAll "^.*:" . "" -}}
{{- if not (regexMatch "^[0-9]+$" $p) -}}
{{- fail (printf "listen address %q has no port" .) -}}
{{- end -}}
{{- $p -}}
{{- end -}}
