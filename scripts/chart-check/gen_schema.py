#!/usr/bin/env python3
"""Generate charts/kaigo/values.schema.json from charts/kaigo/values.yaml.

Why generated: the six component blocks share ~40 keys, and a hand-kept JSON Schema of
that size drifts from values.yaml. The rule here is simple and strict:

* every mapping that values.yaml defines becomes an object with
  ``additionalProperties: false`` (a typo such as ``eligibility.replicaz`` fails);
* a scalar's type is the type of its default, unless OVERRIDES says otherwise;
* Kubernetes pass-through fields (resources, affinity, securityContext, …) stay open
  objects/arrays: their content is checked after rendering by kubernetes-validate.

Usage:
    gen_schema.py            write the schema
    gen_schema.py --check    exit 1 if the committed schema is not what would be written
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

CHART = Path(__file__).resolve().parents[2] / "charts" / "kaigo"
COMPONENTS = ["gateway", "eligibility", "certification", "documents", "careplan", "subsidies", "registry"]

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OPEN_OBJECT = {"type": "object"}
INT_OR_STRING = {"type": ["integer", "string"]}
PROBE_FIELDS = {
    "enabled": {"type": "boolean"},
    "initialDelaySeconds": {"type": "integer", "minimum": 0},
    "periodSeconds": {"type": "integer", "minimum": 1},
    "timeoutSeconds": {"type": "integer", "minimum": 1},
    "failureThreshold": {"type": "integer", "minimum": 1},
    "successThreshold": {"type": "integer", "minimum": 1},
}
PARTIAL_PROBES = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        name: {"type": "object", "additionalProperties": False, "properties": PROBE_FIELDS}
        for name in ("startup", "liveness", "readiness")
    },
}

# Keys (by last path element) whose value is free-form, whatever the path.
BY_KEY = {
    "annotations": STRING_MAP,
    "labels": STRING_MAP,
    "podAnnotations": STRING_MAP,
    "podLabels": STRING_MAP,
    "deploymentAnnotations": STRING_MAP,
    "commonLabels": STRING_MAP,
    "nodeSelector": STRING_MAP,
    "config": {
        "type": "object",
        "description": "Extra environment variables (name: value) for a ConfigMap.",
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties": {"type": "string"},
    },
    "resources": OPEN_OBJECT,
    "affinity": OPEN_OBJECT,
    "behavior": OPEN_OBJECT,
    "podSecurityContext": OPEN_OBJECT,
    "containerSecurityContext": OPEN_OBJECT,
    "deploymentStrategy": OPEN_OBJECT,
    "minAvailable": INT_OR_STRING,
    "maxUnavailable": INT_OR_STRING,
}

# Exact paths (dotted; "*" stands for any component) with a schema of their own.
BY_PATH = {
    "global.image.pullPolicy": {"type": "string", "enum": ["Always", "IfNotPresent", "Never"]},
    "global.image.tag": {"type": "string", "not": {"const": "latest"}},
    "global.logging.level": {"type": "string", "enum": ["error", "warn", "info", "debug", "trace"]},
    "global.logging.format": {"type": "string", "enum": ["json", "text"]},
    "global.tmpVolume.medium": {"type": "string", "enum": ["", "Memory"]},
    "global.shutdownGraceSecs": {"type": "integer", "minimum": 0},
    "global.otlp.sampleRatio": {"type": "number", "minimum": 0, "maximum": 1},
    "global.metrics.port": {"type": "integer", "minimum": 1, "maximum": 65535},
    # kaigo refuses a hash tag in the prefix of a cluster (every key would land on one node).
    "global.redis": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "cluster": {
                "type": "boolean",
                "description": "KAIGO_REDIS__CLUSTER: connect to a Redis Cluster; the redis-url secret then "
                "holds its seed nodes, comma-separated (redis://node-a:6379,redis://node-b:6379).",
            },
            "keyPrefix": {"type": "string", "description": "KAIGO_REDIS__KEY_PREFIX, prepended to every key."},
        },
        "if": {"properties": {"cluster": {"const": True}}, "required": ["cluster"]},
        "then": {"properties": {"keyPrefix": {"pattern": "^[^{}]*$"}}},
    },
    "global.terminationGracePeriodSeconds": {"type": "integer", "minimum": 1},
    "*.replicas": {"type": "integer", "minimum": 0},
    "*.terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
    "*.autoscaling.minReplicas": {"type": "integer", "minimum": 1},
    "*.autoscaling.maxReplicas": {"type": "integer", "minimum": 1},
    "*.autoscaling.targetCPUUtilizationPercentage": {"type": "integer", "minimum": 0},
    "*.autoscaling.targetMemoryUtilizationPercentage": {"type": "integer", "minimum": 0},
    "*.service.type": {"type": "string", "enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
    "*.service.port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "*.probes": PARTIAL_PROBES,
    "tests.services": {"type": "array", "items": {"type": "string"}},
    "migrations.args": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    "global.imagePullSecrets": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {"name": {"type": "string"}},
        },
    },
    # What documents accepts (Keyring::parse): kid:base64 of 32 bytes, comma-separated.
    "secrets.values.storageEncryptionKeys": {
        "type": "string",
        "pattern": "^$|^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=(\\s*,\\s*[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/]{43}=)*$",
        "description": "KAIGO_DOCUMENTS__ENCRYPTION_KEYS: kid:base64 (32 bytes), comma-separated, newest first.",
    },
    "gateway.auth.publicKeys": {
        "type": "array",
        "items": {"type": "string", "pattern": "^\\s*-----BEGIN (RSA )?PUBLIC KEY-----[\\s\\S]+-----END (RSA )?PUBLIC KEY-----\\s*$"},
    },
    "gateway.web.oidc.token": {"type": "string", "enum": ["access_token", "id_token"]},
    "gateway.web.allowedOrigins": {
        "type": "array",
        "items": {"type": "string", "pattern": "^https?://[^/*]+$"},
    },
    "gateway.ingress.hosts": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["host"],
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "paths": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["path"],
                        "additionalProperties": False,
                        "properties": {
                            "path": {"type": "string"},
                            "pathType": {
                                "type": "string",
                                "enum": ["Prefix", "Exact", "ImplementationSpecific"],
                            },
                        },
                    },
                },
            },
        },
    },
}

# The browsers' Ingress has the same host list as the gRPC one.
BY_PATH["gateway.web.ingress.hosts"] = BY_PATH["gateway.ingress.hosts"]


def lookup(path: list[str]) -> dict | None:
    dotted = ".".join(path)
    if dotted in BY_PATH:
        return BY_PATH[dotted]
    if path[0] in COMPONENTS:
        starred = ".".join(["*", *path[1:]])
        if starred in BY_PATH:
            return BY_PATH[starred]
    return BY_KEY.get(path[-1])


def infer(value: object, path: list[str]) -> dict:
    explicit = lookup(path) if path else None
    if explicit is not None:
        return explicit
    if isinstance(value, dict):
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: infer(v, [*path, k]) for k, v in value.items()},
        }
    if isinstance(value, list):
        # Lists of Kubernetes objects (env, volumes, tolerations, peers, rules …):
        # kubernetes-validate checks their content after rendering.
        return {"type": "array", "items": {"type": "object"}}
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, str):
        return {"type": "string"}
    raise SystemExit(f"gen_schema: no schema rule for {'.'.join(path)} = {value!r}")


def build() -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "kaigo chart values",
        "description": "Generated by scripts/chart-check/gen_schema.py from values.yaml; "
        "edit values.yaml (or the generator's rules) and regenerate.",
        **infer(values, []),
    }
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    target = CHART / "values.schema.json"
    text = build()
    if "--check" in sys.argv[1:]:
        if not target.exists() or target.read_text() != text:
            print(
                "values.schema.json is out of date with values.yaml; run "
                "`.tools/chart-venv/bin/python scripts/chart-check/gen_schema.py`",
                file=sys.stderr,
            )
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
