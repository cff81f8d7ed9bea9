{{/*
Names. Every component object is "<fullname>-<component>", cut to 63 characters.
*/}}

{{/* kaigo.name is the chart name, or nameOverride. */}}
{{- define "kaigo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* kaigo.fullname is "<release>-<name>", or just the release name when it already contains the chart name. */}}
{{- define "kaigo.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* kaigo.chart is "<chart>-<version>" for the helm.sh/chart label. */}}
{{- define "kaigo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* kaigo.componentFullname: (dict "ctx" $ "component" "eligibility") → "<fullname>-eligibility". */}}
{{- define "kaigo.componentFullname" -}}
{{- printf "%s-%s" (include "kaigo.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* kaigo.headlessName: the headless Service of a component (the gateway's upstream DNS name). */}}
{{- define "kaigo.headlessName" -}}
{{- printf "%s-headless" (include "kaigo.componentFullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* kaigo.serviceAccountName of a component, after the chart_best_practices/rbac.md rule. */}}
{{- define "kaigo.serviceAccountName" -}}
{{- $sa := (index .ctx.Values .component).serviceAccount -}}
{{- if $sa.create -}}
{{- default (include "kaigo.componentFullname" .) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* kaigo.migrationServiceAccountName is the migration Job's ServiceAccount. */}}
{{- define "kaigo.migrationServiceAccountName" -}}
{{- $sa := .Values.migrations.serviceAccount -}}
{{- if $sa.create -}}
{{- default (printf "%s-migrate" (include "kaigo.fullname" .)) $sa.name -}}
{{- else -}}
{{- default "default" $sa.name -}}
{{- end -}}
{{- end -}}

{{/* kaigo.secretName is the Secret holding database/Redis/internal-auth/storage secrets. */}}
{{- define "kaigo.secretName" -}}
{{- default (printf "%s-secrets" (include "kaigo.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* kaigo.image is "<registry>/<repository>@<digest>" or "…:<tag>" (tag defaults to appVersion). */}}
{{- define "kaigo.image" -}}
{{- $img := .Values.global.image -}}
{{- $repo := $img.repository -}}
{{- if $img.registry -}}
{{- $repo = printf "%s/%s" $img.registry $img.repository -}}
{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* kaigo.components lists the seven components, gateway first. */}}
{{- define "kaigo.components" -}}
gateway eligibility certification documents careplan subsidies registry
{{- end -}}

{{/* kaigo.services lists the six gRPC services behind the gateway. */}}
{{- define "kaigo.services" -}}
eligibility certification documents careplan subsidies registry
{{- end -}}

{{/* kaigo.auditedServices: the services whose read audit the registry gathers for a person's
own access log (registry.audit_sources; docs/domain/access.md#access-log). */}}
{{- define "kaigo.auditedServices" -}}
eligibility certification documents careplan
{{- end -}}

{{/* kaigo.grpcPort is the one container port every component listens on (h2c). */}}
{{- define "kaigo.grpcPort" -}}
50051
{{- end -}}
