{{/*
Helpers take the root context, or a dict with "root" (the root context) and, for a link's objects, "link"
(one entry of .Values.links) and "component". test/helm/templates.ts follows exactly these shapes.
*/}}

{{/* <release>-oneservice, short enough that "-redis-<16-character link id>-replica" stays a DNS label. */}}
{{- define "oneservice.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 30 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 30 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 30 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; with a component's selector labels they would repeat name and instance. */}}
{{- define "oneservice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: oneservice
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* dict "root" $ "component" NAME */}}
{{- define "oneservice.selectorLabels" -}}
app.kubernetes.io/name: oneservice
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "oneservice.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Name of a link's objects; dict "root" $ "link" LINK "component" NAME. */}}
{{- define "oneservice.linkName" -}}
{{ include "oneservice.fullname" .root }}-{{ .component }}-{{ .link.id }}
{{- end -}}

{{/* The Secret and key holding a link's Redis URL; dict "root" $ "link" LINK. */}}
{{- define "oneservice.redisUrlRef" -}}
secretKeyRef:
  {{- if .link.redisUrlSecret }}
  name: {{ .link.redisUrlSecret }}
  key: REDIS_URL_{{ upper .link.id }}
  {{- else }}
  name: {{ include "oneservice.fullname" .root }}-redis-urls
  key: {{ .link.id }}
  {{- end }}
{{- end -}}

{{/* The Secrets' content, so that pods restart when a credential or an address changes. */}}
{{- define "oneservice.secretsChecksum" -}}
checksum/secrets: {{ include (print .Template.BasePath "/secrets.yaml") . | sha256sum }}
{{- end -}}

{{- define "oneservice.podSecurity" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
serviceAccountName: {{ include "oneservice.fullname" . }}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* The two writable places of a read-only root filesystem: tsx's compile cache and the services' files. */}}
{{- define "oneservice.writableVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
- name: state
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{- define "oneservice.writableMounts" -}}
- name: tmp
  mountPath: /tmp
- name: state
  mountPath: /var/lib/oneservice
{{- end -}}

{{/* HTTP probes of a service's ops routes on the port named http. */}}
{{- define "oneservice.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 2
  failureThreshold: 60
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  periodSeconds: 2
  timeoutSeconds: 2
  failureThreshold: 2
{{- end -}}

{{/* Settings every service reads. */}}
{{- define "oneservice.env.common" -}}
- name: TIME_ZONE
  value: {{ .Values.timeZone | quote }}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- range $name, $value := .Values.extraEnv }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Consul's address and token, from the chart's Secret or the operator's. */}}
{{- define "oneservice.env.consul" -}}
{{- $secret := .Values.consul.existingSecret | default (printf "%s-consul" (include "oneservice.fullname" .)) }}
- name: CONSUL_HTTP_ADDR
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: CONSUL_HTTP_ADDR
- name: CONSUL_HTTP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: CONSUL_HTTP_TOKEN
{{- end -}}

{{- define "oneservice.env.adminToken" -}}
- name: ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret | default (printf "%s-auth" (include "oneservice.fullname" .)) }}
      key: ADMIN_TOKEN
{{- end -}}

{{/* LINKS in priority order and every link's Redis. */}}
{{- define "oneservice.env.links" -}}
{{- $ids := list }}
{{- range $link := .Values.links }}
{{- $ids = append $ids $link.id }}
{{- end }}
- name: LINKS
  value: {{ join "," $ids | quote }}
{{- range $link := .Values.links }}
- name: REDIS_URL_{{ upper $link.id }}
  valueFrom:
    {{- include "oneservice.redisUrlRef" (dict "root" $ "link" $link) | nindent 4 }}
{{- end }}
{{- end -}}

{{/* Every link's Kafka, for the comparator's consumer-lag probes. */}}
{{- define "oneservice.env.linkBrokers" -}}
{{- range $link := .Values.links }}
- name: KAFKA_BROKERS_{{ upper $link.id }}
  value: {{ $link.kafkaBrokers | quote }}
{{- end }}
{{- end -}}

{{/* dict "root" $ "link" LINK */}}
{{- define "oneservice.env.processor" -}}
{{ include "oneservice.env.common" .root }}
- name: LINK_ID
  value: {{ .link.id | quote }}
- name: KAFKA_BROKERS
  value: {{ .link.kafkaBrokers | quote }}
- name: REDIS_URL
  valueFrom:
    {{- include "oneservice.redisUrlRef" . | nindent 4 }}
- name: PROCESSOR_PORT
  value: "9090"
- name: PROCESSOR_HOST
  value: "0.0.0.0"
- name: DIM_CATEGORY_FILE
  value: /etc/oneservice/dimensions/category_industry.json
{{- range $name, $value := .root.Values.processor.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $value := .link.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "oneservice.env.gateway" -}}
{{ include "oneservice.env.common" . }}
{{ include "oneservice.env.consul" . }}
{{ include "oneservice.env.adminToken" . }}
{{ include "oneservice.env.links" . }}
- name: GATEWAY_PORT
  value: "8080"
- name: GATEWAY_HOST
  value: "0.0.0.0"
- name: GATEWAY_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: API_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ .Values.auth.existingSecret | default (printf "%s-auth" (include "oneservice.fullname" .)) }}
      key: API_KEYS
- name: ROUTING_CACHE_FILE
  value: /var/lib/oneservice/routing.json
{{- range $name, $value := .Values.gateway.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "oneservice.env.comparator" -}}
{{ include "oneservice.env.common" . }}
{{ include "oneservice.env.consul" . }}
{{ include "oneservice.env.adminToken" . }}
{{ include "oneservice.env.links" . }}
{{ include "oneservice.env.linkBrokers" . }}
- name: COMPARATOR_PORT
  value: "8081"
- name: COMPARATOR_HOST
  value: "0.0.0.0"
- name: COMPARATOR_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: AUDIT_FILE
  value: /var/lib/oneservice/audit.jsonl
{{- range $name, $value := .Values.comparator.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/*
Where a link's pods run: its zone and node pool, and with exclusiveNodes never on a node that runs another
link's pods, so that losing a node or a zone takes at most one link. dict "root" $ "link" LINK.
*/}}
{{- define "oneservice.linkPlacement" -}}
{{- with .link.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .link.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if or .link.zone .link.exclusiveNodes }}
affinity:
  {{- if .link.zone }}
  nodeAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      nodeSelectorTerms:
        - matchExpressions:
            - key: topology.kubernetes.io/zone
              operator: In
              values:
                - {{ .link.zone | quote }}
  {{- end }}
  {{- if .link.exclusiveNodes }}
  podAntiAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchExpressions:
            - key: app.kubernetes.io/instance
              operator: In
              values:
                - {{ .root.Release.Name }}
            - key: oneservice.io/link
              operator: Exists
            - key: oneservice.io/link
              operator: NotIn
              values:
                - {{ .link.id }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Labels of one link's objects of a component, beside oneservice.labels; dict "link" LINK "component" NAME. */}}
{{- define "oneservice.linkLabels" -}}
app.kubernetes.io/component: {{ .component }}
oneservice.io/link: {{ .link.id }}
{{- end -}}

{{/* Selector labels of one link's pods of a component; dict "root" $ "link" LINK "component" NAME. */}}
{{- define "oneservice.linkSelectorLabels" -}}
{{ include "oneservice.selectorLabels" . }}
oneservice.io/link: {{ .link.id }}
{{- end -}}

{{/* Prometheus as a NetworkPolicy peer. */}}
{{- define "oneservice.prometheusPeer" -}}
- namespaceSelector:
    matchLabels:
      {{- toYaml .Values.networkPolicy.prometheus.namespaceSelector | nindent 6 }}
  podSelector:
    matchLabels:
      {{- toYaml .Values.networkPolicy.prometheus.podSelector | nindent 6 }}
{{- end -}}
