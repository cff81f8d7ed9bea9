{{/*
Shared building blocks. Component templates (templates/<component>/*.yaml) call these with
(dict "ctx" $ "component" "<component>"), so the six Deployments share one pod template.
*/}}

{{/* kaigo.selectorLabels: the stable labels a component's selectors use. Never add changing labels here. */}}
{{- define "kaigo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kaigo.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* kaigo.labels: the recommended labels for a component's objects. */}}
{{- define "kaigo.labels" -}}
helm.sh/chart: {{ include "kaigo.chart" .ctx }}
{{ include "kaigo.selectorLabels" . }}
app.kubernetes.io/version: {{ default .ctx.Chart.AppVersion .ctx.Values.global.image.tag | replace "+" "_" | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: kaigo
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* kaigo.commonConfigData: the shared ConfigMap's data (env vars every component reads). */}}
{{- define "kaigo.commonConfigData" -}}
{{- $g := .Values.global -}}
KAIGO_SERVER__LISTEN: {{ printf "0.0.0.0:%s" (include "kaigo.grpcPort" .) | quote }}
KAIGO_SERVER__SHUTDOWN_GRACE_SECS: {{ $g.shutdownGraceSecs | toString | quote }}
KAIGO_TELEMETRY__LOG_LEVEL: {{ $g.logging.level | quote }}
KAIGO_TELEMETRY__LOG_FORMAT: {{ $g.logging.format | quote }}
KAIGO_REDIS__CLUSTER: {{ $g.redis.cluster | toString | quote }}
KAIGO_REDIS__KEY_PREFIX: {{ $g.redis.keyPrefix | quote }}
{{- with $g.otlp.endpoint }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ . | quote }}
{{- end }}
KAIGO_TELEMETRY__SAMPLE_RATIO: {{ $g.otlp.sampleRatio | toString | quote }}
{{- if $g.metrics.enabled }}
KAIGO_TELEMETRY__METRICS_LISTEN: {{ printf "0.0.0.0:%d" (int $g.metrics.port) | quote }}
{{- end }}
{{- range $k, $val := $g.config }}
{{ $k }}: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* kaigo.componentConfigData: one component's own ConfigMap data. */}}
{{- define "kaigo.componentConfigData" -}}
{{- $ctx := .ctx -}}
{{- $v := index $ctx.Values .component -}}
OTEL_SERVICE_NAME: {{ printf "kaigo-%s" .component | quote }}
{{- if eq .component "gateway" }}
{{- range (include "kaigo.services" $ctx | splitList " ") }}
{{- $svc := dict "ctx" $ctx "component" . }}
KAIGO_GATEWAY__UPSTREAMS__{{ upper . }}: {{ printf "http://%s:%s" (include "kaigo.headlessName" $svc) (include "kaigo.grpcPort" $ctx) | quote }}
{{- end }}
{{- end }}
{{- if eq .component "registry" }}
{{- range (include "kaigo.auditedServices" $ctx | splitList " ") }}
{{- $svc := dict "ctx" $ctx "component" . }}
KAIGO_REGISTRY__AUDIT_SOURCES__{{ upper . }}: {{ printf "http://%s:%s" (include "kaigo.headlessName" $svc) (include "kaigo.grpcPort" $ctx) | quote }}
{{- end }}
{{- end }}
{{- if eq .component "gateway" }}
{{- with $v.auth.issuer }}
KAIGO_AUTH__ISSUER: {{ . | quote }}
{{- end }}
{{- with $v.auth.audience }}
KAIGO_AUTH__AUDIENCE: {{ . | quote }}
{{- end }}
{{- with $v.auth.jwksUrl }}
KAIGO_AUTH__JWKS_URL: {{ . | quote }}
{{- end }}
{{- if or $v.auth.jwksFile.existingSecret $v.auth.jwksFile.existingConfigMap }}
KAIGO_AUTH__JWKS_FILE: {{ printf "/etc/kaigo/jwks/%s" $v.auth.jwksFile.key | quote }}
{{- end }}
{{- with $v.auth.publicKeys }}
{{- $files := list }}
{{- range $i, $_ := . }}
{{- $files = append $files (printf "/etc/kaigo/keys/key-%d.pem" $i) }}
{{- end }}
KAIGO_AUTH__PUBLIC_KEY_FILES: {{ join "," $files | quote }}
{{- end }}
{{- with $v.tls }}
{{- if .existingSecret }}
KAIGO_GATEWAY__TLS__CERT_FILE: "/etc/kaigo/tls/tls.crt"
KAIGO_GATEWAY__TLS__KEY_FILE: "/etc/kaigo/tls/tls.key"
{{- end }}
{{- if .clientCaSecret }}
{{- if not .existingSecret }}
{{- fail "gateway.tls.clientCaSecret (mutual TLS) needs gateway.tls.existingSecret: the gateway's own certificate" }}
{{- end }}
KAIGO_GATEWAY__TLS__CLIENT_CA_FILE: {{ printf "/etc/kaigo/client-ca/%s" .clientCaKey | quote }}
{{- end }}
{{- end }}
{{- $fromConfig := or (hasKey $v.config "KAIGO_AUTH__JWKS_URL") (hasKey $v.config "KAIGO_AUTH__JWKS_FILE") (hasKey $v.config "KAIGO_AUTH__PUBLIC_KEY_FILES") }}
{{- if and $v.auth.requireKeys (not (or $v.auth.jwksUrl $v.auth.jwksFile.existingSecret $v.auth.jwksFile.existingConfigMap $v.auth.publicKeys $fromConfig)) }}
{{- fail "gateway.auth: the gateway has no key to verify tokens with and would exit at start; set gateway.auth.publicKeys (PEM), gateway.auth.jwksUrl or gateway.auth.jwksFile (or gateway.auth.requireKeys: false when an overlay adds them)" }}
{{- end }}
{{- if $v.web.enabled }}
{{- /* The screens built into the image (Dockerfile's web stage). */}}
KAIGO_GATEWAY__WEB__ROOT: "/usr/share/kaigo/web"
{{- end }}
{{- with $v.web.allowedOrigins }}
KAIGO_GATEWAY__WEB__ALLOWED_ORIGINS: {{ toJson . | quote }}
{{- end }}
{{- with $v.web.oidc }}
{{- if .clientId }}
KAIGO_GATEWAY__WEB__OIDC__AUTHORIZATION_ENDPOINT: {{ .authorizationEndpoint | quote }}
KAIGO_GATEWAY__WEB__OIDC__TOKEN_ENDPOINT: {{ .tokenEndpoint | quote }}
KAIGO_GATEWAY__WEB__OIDC__CLIENT_ID: {{ .clientId | quote }}
KAIGO_GATEWAY__WEB__OIDC__SCOPE: {{ .scope | quote }}
KAIGO_GATEWAY__WEB__OIDC__TOKEN: {{ .token | quote }}
{{- with .endSessionEndpoint }}
KAIGO_GATEWAY__WEB__OIDC__END_SESSION_ENDPOINT: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if eq .component "certification" }}
{{- /* The applicant check: CheckEligibility on eligibility's pods, balanced per call. */}}
KAIGO_CERTIFICATION__ELIGIBILITY_URL: {{ printf "http://%s:%s" (include "kaigo.headlessName" (dict "ctx" $ctx "component" "eligibility")) (include "kaigo.grpcPort" $ctx) | quote }}
{{- end }}
{{- if eq .component "documents" }}
KAIGO_DOCUMENTS__STORAGE_URL: {{ $v.storage.url | quote }}
{{- end }}
{{- if eq .component "registry" }}
{{- with (include "kaigo.trustAnchor" $ctx | fromJson) }}
KAIGO_REGISTRY__TRUST_ANCHOR_FILE: {{ printf "/etc/kaigo/trust-anchor/%s" .key | quote }}
{{- end }}
{{- end }}
{{- range $k, $val := $v.config }}
{{ $k }}: {{ $val | quote }}
{{- end }}
{{- end -}}

{{/* kaigo.secretEnvVar: one env var from the release Secret. (dict "ctx" "name" "key" "optional") */}}
{{- define "kaigo.secretEnvVar" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "kaigo.secretName" .ctx }}
      key: {{ .key | quote }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* kaigo.secretEnv: the secret env vars a component needs. */}}
{{- define "kaigo.secretEnv" -}}
{{- $k := .ctx.Values.secrets.keys -}}
{{- if ne .component "gateway" }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "KAIGO_DATABASE__URL" "key" $k.databaseUrl) }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "KAIGO_DATABASE__READ_URLS" "key" $k.databaseReadUrls "optional" true) }}
{{- end }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "KAIGO_REDIS__URL" "key" $k.redisUrl) }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "KAIGO_INTERNAL_AUTH__SECRET" "key" $k.internalAuthSecret) }}
{{- if eq .component "documents" }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "KAIGO_DOCUMENTS__ENCRYPTION_KEYS" "key" $k.storageEncryptionKeys) }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "AWS_ACCESS_KEY_ID" "key" $k.awsAccessKeyId "optional" true) }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "AWS_SECRET_ACCESS_KEY" "key" $k.awsSecretAccessKey "optional" true) }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "AWS_ENDPOINT" "key" $k.awsEndpoint "optional" true) }}
{{ include "kaigo.secretEnvVar" (dict "ctx" .ctx "name" "AWS_REGION" "key" $k.awsRegion "optional" true) }}
{{- end }}
{{- end -}}

{{/* kaigo.probe: a native gRPC probe. (dict "p" <probe values> "service" "liveness"|"readiness") */}}
{{- define "kaigo.probe" -}}
{{- if .tls }}
{{- /* Kubelet's gRPC probe speaks plaintext only: a TLS gateway is probed on its TCP port. */}}
tcpSocket:
  port: {{ include "kaigo.grpcPort" . | int }}
{{- else }}
grpc:
  port: {{ include "kaigo.grpcPort" . | int }}
  service: {{ .service }}
{{- end }}
initialDelaySeconds: {{ .p.initialDelaySeconds }}
periodSeconds: {{ .p.periodSeconds }}
timeoutSeconds: {{ .p.timeoutSeconds }}
failureThreshold: {{ .p.failureThreshold }}
successThreshold: {{ .p.successThreshold }}
{{- end -}}

{{/* kaigo.topologySpread: constraints with the component's selector filled in where absent. */}}
{{- define "kaigo.topologySpread" -}}
{{- $v := index .ctx.Values .component -}}
{{- $list := $v.topologySpreadConstraints | default .ctx.Values.global.topologySpreadConstraints -}}
{{- $out := list -}}
{{- range $list }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" (include "kaigo.selectorLabels" $ | fromYaml)) }}
{{- end }}
{{- $out = append $out $c }}
{{- end }}
{{- if $out }}
{{- toYaml $out }}
{{- end }}
{{- end -}}

{{/* kaigo.tmpVolume: the emptyDir for /tmp, the only writable path. */}}
{{- define "kaigo.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .Values.global.tmpVolume.medium }}
    medium: {{ . }}
    {{- end }}
    {{- with .Values.global.tmpVolume.sizeLimit }}
    sizeLimit: {{ . }}
    {{- end }}
{{- end -}}

{{/* kaigo.trustAnchor: the registry's trust anchor as JSON {"configMap", "key"}, or {} when
     none is configured (card confirmations are then refused). */}}
{{- define "kaigo.trustAnchor" -}}
{{- $t := .Values.registry.trustAnchor -}}
{{- if and $t.pem $t.existingConfigMap -}}
{{- fail "registry.trustAnchor: set pem or existingConfigMap, not both" -}}
{{- end -}}
{{- if $t.pem -}}
{{- toJson (dict "configMap" (printf "%s-trust-anchor" (include "kaigo.componentFullname" (dict "ctx" . "component" "registry"))) "key" "trust-anchor.pem") -}}
{{- else if $t.existingConfigMap -}}
{{- toJson (dict "configMap" $t.existingConfigMap "key" $t.key) -}}
{{- else -}}
{{- toJson dict -}}
{{- end -}}
{{- end -}}

{{/* kaigo.deployment: the Deployment of one component (all seven use this). */}}
{{- define "kaigo.deployment" -}}
{{- $ctx := .ctx -}}
{{- $g := $ctx.Values.global -}}
{{- $v := index $ctx.Values .component -}}
{{- $probes := mergeOverwrite (deepCopy $g.probes) (deepCopy (default dict $v.probes)) -}}
{{- $grace := $v.terminationGracePeriodSeconds | default $g.terminationGracePeriodSeconds | int -}}
{{- if le $grace (int $g.shutdownGraceSecs) -}}
{{- fail (printf "%s: terminationGracePeriodSeconds (%d) must be greater than global.shutdownGraceSecs (%d)" .component $grace (int $g.shutdownGraceSecs)) -}}
{{- end -}}
{{- $jwks := dict -}}
{{- $publicKeys := list -}}
{{- $tls := dict -}}
{{- $anchor := dict -}}
{{- if eq .component "registry" -}}
{{- $anchor = include "kaigo.trustAnchor" $ctx | fromJson -}}
{{- end -}}
{{- if eq .component "gateway" -}}
{{- $jwks = $v.auth.jwksFile -}}
{{- $publicKeys = $v.auth.publicKeys -}}
{{- $tls = $v.tls -}}
{{- end -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "kaigo.componentFullname" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
  {{- with $v.deploymentAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- if not $v.autoscaling.enabled }}
  replicas: {{ $v.replicas }}
  {{- end }}
  revisionHistoryLimit: {{ $g.revisionHistoryLimit }}
  strategy:
    {{- toYaml $g.deploymentStrategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "kaigo.selectorLabels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "kaigo.labels" . | nindent 8 }}
        {{- with $g.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "kaigo.commonConfigData" $ctx | sha256sum }}
        checksum/component-config: {{ include "kaigo.componentConfigData" . | sha256sum }}
        {{- with $publicKeys }}
        checksum/public-keys: {{ toJson . | sha256sum }}
        {{- end }}
        {{- if and (eq .component "registry") $ctx.Values.registry.trustAnchor.pem }}
        checksum/trust-anchor: {{ $ctx.Values.registry.trustAnchor.pem | sha256sum }}
        {{- end }}
        {{- if $ctx.Values.secrets.create }}
        checksum/secret: {{ toJson $ctx.Values.secrets.values | sha256sum }}
        {{- end }}
        {{- with $g.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "kaigo.serviceAccountName" . }}
      automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
      {{- /* Service links would inject KAIGO_GATEWAY_PORT=tcp://… style variables, which the
             KAIGO_* config loader would read as unknown keys. */}}
      enableServiceLinks: false
      {{- with $g.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($v.priorityClassName | default $g.priorityClassName) }}
      priorityClassName: {{ . }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $grace }}
      securityContext:
        {{- toYaml $g.podSecurityContext | nindent 8 }}
      containers:
        - name: {{ .component }}
          image: {{ include "kaigo.image" $ctx }}
          imagePullPolicy: {{ $g.image.pullPolicy }}
          args:
            - serve
            - {{ .component }}
          ports:
            - name: grpc
              containerPort: {{ include "kaigo.grpcPort" $ctx }}
              protocol: TCP
            {{- if $g.metrics.enabled }}
            - name: metrics
              containerPort: {{ $g.metrics.port }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ printf "%s-config" (include "kaigo.fullname" $ctx) }}
            - configMapRef:
                name: {{ include "kaigo.componentFullname" . }}
            {{- with $g.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            {{- include "kaigo.secretEnv" . | trim | nindent 12 }}
            {{- with $g.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if $probes.startup.enabled }}
          startupProbe:
            {{- include "kaigo.probe" (dict "p" $probes.startup "service" "liveness" "tls" $tls.existingSecret) | nindent 12 }}
          {{- end }}
          {{- if $probes.liveness.enabled }}
          livenessProbe:
            {{- include "kaigo.probe" (dict "p" $probes.liveness "service" "liveness" "tls" $tls.existingSecret) | nindent 12 }}
          {{- end }}
          {{- if $probes.readiness.enabled }}
          readinessProbe:
            {{- include "kaigo.probe" (dict "p" $probes.readiness "service" "readiness" "tls" $tls.existingSecret) | nindent 12 }}
          {{- end }}
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- toYaml $g.containerSecurityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- if or $jwks.existingSecret $jwks.existingConfigMap }}
            - name: jwks
              mountPath: /etc/kaigo/jwks
              readOnly: true
            {{- end }}
            {{- if $publicKeys }}
            - name: public-keys
              mountPath: /etc/kaigo/keys
              readOnly: true
            {{- end }}
            {{- if $tls.existingSecret }}
            - name: tls
              mountPath: /etc/kaigo/tls
              readOnly: true
            {{- end }}
            {{- if $tls.clientCaSecret }}
            - name: client-ca
              mountPath: /etc/kaigo/client-ca
              readOnly: true
            {{- end }}
            {{- if $anchor.configMap }}
            - name: trust-anchor
              mountPath: /etc/kaigo/trust-anchor
              readOnly: true
            {{- end }}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        {{- include "kaigo.tmpVolume" $ctx | nindent 8 }}
        {{- if $jwks.existingSecret }}
        - name: jwks
          secret:
            secretName: {{ $jwks.existingSecret }}
            items:
              - key: {{ $jwks.key | quote }}
                path: {{ $jwks.key | quote }}
        {{- else if $jwks.existingConfigMap }}
        - name: jwks
          configMap:
            name: {{ $jwks.existingConfigMap }}
            items:
              - key: {{ $jwks.key | quote }}
                path: {{ $jwks.key | quote }}
        {{- end }}
        {{- if $publicKeys }}
        - name: public-keys
          configMap:
            name: {{ include "kaigo.componentFullname" . }}-keys
        {{- end }}
        {{- if $tls.existingSecret }}
        - name: tls
          secret:
            secretName: {{ $tls.existingSecret }}
            items:
              - key: tls.crt
                path: tls.crt
              - key: tls.key
                path: tls.key
        {{- end }}
        {{- if $tls.clientCaSecret }}
        - name: client-ca
          secret:
            secretName: {{ $tls.clientCaSecret }}
            items:
              - key: {{ $tls.clientCaKey | quote }}
                path: {{ $tls.clientCaKey | quote }}
        {{- end }}
        {{- if $anchor.configMap }}
        - name: trust-anchor
          configMap:
            name: {{ $anchor.configMap }}
            items:
              - key: {{ $anchor.key | quote }}
                path: {{ $anchor.key | quote }}
        {{- end }}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with ($v.nodeSelector | default $g.nodeSelector) }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($v.tolerations | default $g.tolerations) }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with ($v.affinity | default $g.affinity) }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (include "kaigo.topologySpread" .) }}
      topologySpreadConstraints:
        {{- . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* kaigo.componentConfigMap: a component's own ConfigMap. */}}
{{- define "kaigo.componentConfigMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "kaigo.componentFullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
data:
  {{- include "kaigo.componentConfigData" . | nindent 2 }}
{{- end -}}

{{/* kaigo.service: the ClusterIP Service, or the headless one when .headless is true. */}}
{{- define "kaigo.service" -}}
{{- $v := index .ctx.Values .component -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ ternary (include "kaigo.headlessName" .) (include "kaigo.componentFullname" .) (default false .headless) }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
    {{- with $v.service.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- if .headless }}
  {{- /* The gateway resolves this name to every ready pod IP and balances per request. */}}
  type: ClusterIP
  clusterIP: None
  publishNotReadyAddresses: false
  {{- else }}
  type: {{ $v.service.type }}
  {{- end }}
  selector:
    {{- include "kaigo.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ ternary (include "kaigo.grpcPort" .ctx | int) $v.service.port (default false .headless) }}
      targetPort: grpc
      protocol: TCP
      appProtocol: kubernetes.io/h2c
{{- end -}}

{{/* kaigo.serviceAccount: a component's ServiceAccount (when serviceAccount.create). */}}
{{- define "kaigo.serviceAccount" -}}
{{- $v := index .ctx.Values .component -}}
{{- if $v.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "kaigo.serviceAccountName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
  {{- with $v.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
{{- end -}}
{{- end -}}

{{/* kaigo.hpa: an autoscaling/v2 HorizontalPodAutoscaler (when autoscaling.enabled). */}}
{{- define "kaigo.hpa" -}}
{{- $a := (index .ctx.Values .component).autoscaling -}}
{{- if $a.enabled -}}
{{- if lt (int $a.maxReplicas) (int $a.minReplicas) -}}
{{- fail (printf "%s.autoscaling: maxReplicas (%d) is below minReplicas (%d)" .component (int $a.maxReplicas) (int $a.minReplicas)) -}}
{{- end -}}
{{- if not (or $a.metrics $a.targetCPUUtilizationPercentage $a.targetMemoryUtilizationPercentage) -}}
{{- fail (printf "%s.autoscaling: set metrics or a CPU/memory target" .component) -}}
{{- end -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "kaigo.componentFullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "kaigo.componentFullname" . }}
  minReplicas: {{ $a.minReplicas }}
  maxReplicas: {{ $a.maxReplicas }}
  metrics:
    {{- if $a.metrics }}
    {{- toYaml $a.metrics | nindent 4 }}
    {{- else }}
    {{- with $a.targetCPUUtilizationPercentage }}
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- with $a.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
    {{- end }}
  {{- with $a.behavior }}
  behavior:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
{{- end -}}

{{/* kaigo.pdb: a policy/v1 PodDisruptionBudget (when pdb.enabled). */}}
{{- define "kaigo.pdb" -}}
{{- $p := (index .ctx.Values .component).pdb -}}
{{- if $p.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "kaigo.componentFullname" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
    {{- with $p.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $p.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- if ne (toString $p.maxUnavailable) "" }}
  maxUnavailable: {{ $p.maxUnavailable }}
  {{- else }}
  minAvailable: {{ $p.minAvailable | default 1 }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "kaigo.selectorLabels" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* kaigo.peer: a NetworkPolicyPeer selecting one component's pods of this release. */}}
{{- define "kaigo.peer" -}}
podSelector:
  matchLabels:
    {{- include "kaigo.selectorLabels" . | nindent 4 }}
{{- end -}}

{{/* kaigo.egressRule: an egress rule from a global.networkPolicy.<target> block; no "to" means any destination on those ports. */}}
{{- define "kaigo.egressRule" -}}
{{- $r := dict "ports" .ports -}}
{{- if .to -}}
{{- $_ := set $r "to" .to -}}
{{- end -}}
{{- toJson $r -}}
{{- end -}}

{{/*
kaigo.networkPolicy: one component's NetworkPolicy (when global.networkPolicy.enabled).
  gateway:  ingress from gateway.networkPolicy.ingressFrom (or anywhere) and the test Pod;
            egress to the six services, DNS, Redis, OTLP and extraEgress (e.g. the JWKS host).
  services: ingress only from the gateway and the test Pod (eligibility: also certification);
            egress to DNS, PostgreSQL, Redis, OTLP (documents: object storage; certification:
            eligibility, for its applicant check) and extraEgress.
*/}}
{{- define "kaigo.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $g := $ctx.Values.global -}}
{{- $np := $g.networkPolicy -}}
{{- $v := index $ctx.Values .component -}}
{{- if $np.enabled -}}
{{- $port := include "kaigo.grpcPort" $ctx | int -}}
{{- $grpcPorts := list (dict "port" $port "protocol" "TCP") -}}
{{- $testPeer := include "kaigo.peer" (dict "ctx" $ctx "component" "test") | fromYaml -}}
{{- $ingress := list -}}
{{- $egress := list -}}
{{- if eq .component "gateway" -}}
  {{- if $v.networkPolicy.ingressFrom -}}
    {{- $ingress = append $ingress (dict "from" (append (deepCopy $v.networkPolicy.ingressFrom) $testPeer) "ports" $grpcPorts) -}}
  {{- else -}}
    {{- $ingress = append $ingress (dict "ports" $grpcPorts) -}}
  {{- end -}}
  {{- $upstreams := list -}}
  {{- range (include "kaigo.services" $ctx | splitList " ") -}}
    {{- $upstreams = append $upstreams (include "kaigo.peer" (dict "ctx" $ctx "component" .) | fromYaml) -}}
  {{- end -}}
  {{- $egress = append $egress (dict "to" $upstreams "ports" $grpcPorts) -}}
{{- else -}}
  {{- $gatewayPeer := include "kaigo.peer" (dict "ctx" $ctx "component" "gateway") | fromYaml -}}
  {{- $certificationPeer := include "kaigo.peer" (dict "ctx" $ctx "component" "certification") | fromYaml -}}
  {{- $eligibilityPeer := include "kaigo.peer" (dict "ctx" $ctx "component" "eligibility") | fromYaml -}}
  {{- $registryPeer := include "kaigo.peer" (dict "ctx" $ctx "component" "registry") | fromYaml -}}
  {{- $audited := include "kaigo.auditedServices" $ctx | splitList " " -}}
  {{- $from := list $gatewayPeer $testPeer -}}
  {{- if eq .component "eligibility" -}}
    {{- $from = append $from $certificationPeer -}}
  {{- end -}}
  {{- if has .component $audited -}}
    {{- /* the registry reads the person's access log from this service's trail */ -}}
    {{- $from = append $from $registryPeer -}}
  {{- end -}}
  {{- $ingress = append $ingress (dict "from" $from "ports" $grpcPorts) -}}
  {{- $egress = append $egress (include "kaigo.egressRule" $np.postgres | fromJson) -}}
  {{- if eq .component "certification" -}}
    {{- $egress = append $egress (dict "to" (list $eligibilityPeer) "ports" $grpcPorts) -}}
  {{- end -}}
  {{- if eq .component "registry" -}}
    {{- $sources := list -}}
    {{- range $audited -}}
      {{- $sources = append $sources (include "kaigo.peer" (dict "ctx" $ctx "component" .) | fromYaml) -}}
    {{- end -}}
    {{- $egress = append $egress (dict "to" $sources "ports" $grpcPorts) -}}
  {{- end -}}
{{- end -}}
{{- $egress = append $egress (include "kaigo.egressRule" $np.dns | fromJson) -}}
{{- $egress = append $egress (include "kaigo.egressRule" $np.redis | fromJson) -}}
{{- if $g.otlp.endpoint -}}
  {{- $egress = append $egress (include "kaigo.egressRule" $np.otlp | fromJson) -}}
{{- end -}}
{{- if eq .component "documents" -}}
  {{- $egress = append $egress (include "kaigo.egressRule" $np.objectStorage | fromJson) -}}
{{- end -}}
{{- if $g.metrics.enabled -}}
  {{- $metricsPorts := list (dict "port" (int $g.metrics.port) "protocol" "TCP") -}}
  {{- if $np.metrics.from -}}
    {{- $ingress = append $ingress (dict "from" $np.metrics.from "ports" $metricsPorts) -}}
  {{- else -}}
    {{- $ingress = append $ingress (dict "ports" $metricsPorts) -}}
  {{- end -}}
{{- end -}}
{{- $ingress = concat $ingress $v.networkPolicy.extraIngress -}}
{{- $egress = concat $egress $v.networkPolicy.extraEgress -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "kaigo.componentFullname" . }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "kaigo.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "kaigo.selectorLabels" . | nindent 6 }}
  policyTypes:
    - Ingress
    - Egress
  ingress:
    {{- toYaml $ingress | nindent 4 }}
  egress:
    {{- toYaml $egress | nindent 4 }}
{{- end -}}
{{- end -}}
