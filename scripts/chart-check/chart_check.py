#!/usr/bin/env python3
"""Check charts/kaigo and k8s/ without a cluster, a helm binary or network access.

Run through run.sh, which prepares the virtualenv. Steps:
  1. generated files are current: values.schema.json (gen_schema.py) and k8s/base
     (gen_kustomize_base.py);
  2. `helm lint --strict` (Helm's own linter, via helm-python-sdk) for each values profile;
  3. render the chart with Helm's engine for the default values, ci/production-values.yaml and
     ci/minimal-values.yaml, and validate every object, hooks and tests included, against the
     Kubernetes OpenAPI schemas in strict mode (kubernetes-validate; unknown fields fail);
  4. values the schema or the templates must refuse are refused (e.g. eligibility.replicaz);
  5. `kubectl kustomize` each overlay under k8s/overlays and validate it the same way;
  6. monitoring (profile "monitoring"): the metrics port, the PodMonitor, the PrometheusRule
     (the rules file itself, checked with `promtool check rules` and unit-tested with
     `promtool test rules`) and the dashboards; none of it in the other profiles (off by
     default). promtool comes from Debian's `prometheus` package (scripts/image/install-tools.sh);
     without it the check fails;
  7. assertions: every pod runs as non-root with the restricted-profile securityContext; every
     long-running container has liveness and readiness probes; in the production profiles each
     of the six components has a PodDisruptionBudget, a HorizontalPodAutoscaler and a
     NetworkPolicy that select or target it, and its Deployment leaves replicas to the HPA;
  8. the production overlay sizes every component as the chart's production profile does (HPA
     bounds and metrics, container requests and limits, the eligibility L1 budget): both follow
     docs/capacity.md, so one changed alone is a drift from the plan.

Exit status is non-zero on any failure; the last line is "N passed, N failed".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable

import helm_python as helm
import kubernetes_validate
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHART = ROOT / "charts" / "kaigo"
OVERLAYS = ROOT / "k8s" / "overlays"
KUBE_VERSION = os.environ.get("CHART_CHECK_KUBE_VERSION", "1.30.0")
COMPONENTS = ["gateway", "eligibility", "certification", "documents", "careplan", "subsidies", "registry"]
SERVER_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
POD_KINDS = SERVER_KINDS | {"Job", "CronJob", "Pod", "ReplicaSet"}
RELEASE, NAMESPACE = "kaigo", "kaigo"

# The defaults alone cannot start (the gateway has no key to verify tokens with, and refuses to
# render); "default" adds the one value an install must choose.
DEFAULT_KEYS: dict[str, Any] = {"gateway": {"auth": {"jwksUrl": "https://idp.kaigo.example.jp/.well-known/jwks.json"}}}

# The gateway serving mutual TLS itself, from Secrets (on top of the minimal profile's keys).
GATEWAY_TLS: dict[str, Any] = {
    "gateway": {"tls": {"existingSecret": "kaigo-gateway-tls", "clientCaSecret": "kaigo-client-ca"}},
}

# Every monitoring object on, with the NetworkPolicies that must let the scrapes in.
MONITORING: dict[str, Any] = {
    "global": {
        "metrics": {
            "enabled": True,
            "podMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {"enabled": True},
            "dashboards": {"enabled": True},
        },
        "networkPolicy": {
            "enabled": True,
            "metrics": {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]},
        },
    },
}
RULES = CHART / "files" / "prometheus" / "kaigo-rules.yaml"
RULE_TESTS = CHART / "files" / "prometheus" / "kaigo-rules.test.yaml"
DASHBOARDS = CHART / "files" / "dashboards"
# Objects of the Prometheus Operator's CRDs: no Kubernetes schema; check_monitoring checks them.
MONITORING_API = "monitoring.coreos.com/"

PROFILES: dict[str, Path | dict[str, Any]] = {
    "default": DEFAULT_KEYS,
    "production": CHART / "ci" / "production-values.yaml",
    "minimal": CHART / "ci" / "minimal-values.yaml",
    "gateway-tls": {},  # filled in main(): minimal + GATEWAY_TLS
    "monitoring": {},  # filled in main(): minimal + MONITORING
}


def with_keys(values: dict[str, Any]) -> dict[str, Any]:
    """`values` on top of DEFAULT_KEYS, so a case fails for its own reason only."""
    merged = {"gateway": {"auth": dict(DEFAULT_KEYS["gateway"]["auth"])}}
    for key, value in values.items():
        if key == "gateway" and isinstance(value, dict):
            merged["gateway"] = {**merged["gateway"], **value}
            if isinstance(value.get("auth"), dict):
                merged["gateway"]["auth"] = {**DEFAULT_KEYS["gateway"]["auth"], **value["auth"]}
        else:
            merged[key] = value
    return merged


# Values that must NOT render: (description, values, text the error must contain). Each is
# rendered with a gateway key (with_keys) unless it is about the keys.
MUST_FAIL: list[tuple[str, dict[str, Any], str]] = [
    ("the defaults: a gateway without any key to verify tokens", {}, "gateway.auth"),
    (
        "a gateway whose only key setting is empty",
        {"gateway": {"auth": {"jwksUrl": "", "publicKeys": []}}},
        "gateway.auth",
    ),
    (
        "a documents encryption key that is not kid:base64 of 32 bytes",
        with_keys({"secrets": {"create": True, "values": {"databaseUrl": "postgres://x/y", "storageEncryptionKeys": "dev-only-key"}}}),
        "storageEncryptionKeys",
    ),
    (
        "a second documents key of the wrong length",
        with_keys({"secrets": {"create": True, "values": {"databaseUrl": "postgres://x/y", "storageEncryptionKeys": "k2:" + "A" * 43 + "=,k1:short"}}}),
        "storageEncryptionKeys",
    ),
    ("a public key that is not PEM", {"gateway": {"auth": {"publicKeys": ["ssh-ed25519 AAAA kaigo"]}}}, "publicKeys"),
    (
        "mutual TLS without the gateway's own certificate",
        with_keys({"gateway": {"tls": {"clientCaSecret": "kaigo-client-ca"}}}),
        "gateway.tls.existingSecret",
    ),
    ("unknown key eligibility.replicaz", with_keys({"eligibility": {"replicaz": 2}}), "replicaz"),
    ("unknown key under global", with_keys({"global": {"imagePullPolicy": "Always"}}), "imagePullPolicy"),
    ("unknown top-level key", with_keys({"gatway": {"replicas": 2}}), "gatway"),
    ("wrong type for replicas", with_keys({"gateway": {"replicas": "two"}}), "replicas"),
    ("image tag latest", with_keys({"global": {"image": {"tag": "latest"}}}), "tag"),
    (
        "grace period not above the drain time",
        with_keys({"global": {"terminationGracePeriodSeconds": 20, "shutdownGraceSecs": 20}}),
        "terminationGracePeriodSeconds",
    ),
    ("a Bearer token other than access_token or id_token", with_keys({"gateway": {"web": {"oidc": {"token": "code"}}}}), "token"),
    ("secrets.create without a database URL", with_keys({"secrets": {"create": True}}), "databaseUrl"),
    (
        "a PodMonitor without the metrics port",
        with_keys({"global": {"metrics": {"podMonitor": {"enabled": True}}}}),
        "global.metrics.enabled",
    ),
    ("a sample ratio above 1", with_keys({"global": {"otlp": {"sampleRatio": 1.5}}}), "sampleRatio"),
    (
        "a hash tag in the key prefix of a Redis Cluster",
        with_keys({"global": {"redis": {"cluster": True, "keyPrefix": "{kaigo}:"}}}),
        "keyPrefix",
    ),
]


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, name: str, fn: Callable[[], str | None]) -> Any:
        start = time.monotonic()
        try:
            detail = fn()
        except Failure as exc:
            self.failed.append(name)
            print(f"FAIL  {name}\n      " + "\n      ".join(str(exc).splitlines()), flush=True)
            return None
        except Exception:  # a crash in the checker is a failure too, with its traceback
            self.failed.append(name)
            print(f"FAIL  {name} (checker error)\n{traceback.format_exc()}", flush=True)
            return None
        self.passed += 1
        took = time.monotonic() - start
        print(f"ok    {name}{' — ' + detail if detail else ''} ({took:.2f}s)", flush=True)
        return detail


class Failure(Exception):
    pass


def load_values(source: Path | dict[str, Any] | None) -> dict[str, Any] | None:
    if source is None or isinstance(source, dict):
        return source
    return yaml.safe_load(source.read_text()) or {}


def parse_documents(texts: Iterable[tuple[str, str]]) -> list[tuple[str, dict]]:
    objects = []
    for source, text in texts:
        for doc in yaml.safe_load_all(text):
            if doc is None:
                continue
            if not isinstance(doc, dict) or "kind" not in doc or "apiVersion" not in doc:
                raise Failure(f"{source}: a document that is not a Kubernetes object: {str(doc)[:120]}")
            objects.append((source, doc))
    return objects


def render_chart(values: dict[str, Any] | None) -> list[tuple[str, dict]]:
    try:
        with helm.Chart.load(CHART) as chart:
            manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
    except helm.HelmError as exc:
        raise Failure(f"helm refused to render: {str(exc).strip()}") from exc
    return parse_documents((p, t) for p, t in sorted(manifests.items()) if not p.endswith("NOTES.txt"))


def ident(obj: dict) -> str:
    return f"{obj['kind']}/{obj.get('metadata', {}).get('name', '?')}"


def validate_objects(objects: list[tuple[str, dict]]) -> str:
    errors, seen = [], {}
    for source, obj in objects:
        key = (obj["apiVersion"], obj["kind"], obj.get("metadata", {}).get("name"))
        if key in seen:
            errors.append(f"{ident(obj)} appears twice ({seen[key]} and {source})")
        seen[key] = source
        if obj["apiVersion"].startswith(MONITORING_API):
            continue  # no schema in Kubernetes; check_monitoring checks these
        try:
            kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "(root)"
            errors.append(f"{ident(obj)} [{source}] at {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            errors.append(f"{ident(obj)} [{source}]: {exc.message}")
    if errors:
        raise Failure("\n".join(errors))
    return f"{len(objects)} objects valid against Kubernetes {KUBE_VERSION} (strict)"


def pod_spec(obj: dict) -> dict | None:
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec")
    if kind in POD_KINDS:
        return spec.get("template", {}).get("spec")
    return None


def all_containers(spec: dict) -> list[tuple[str, dict]]:
    out = []
    for field in ("initContainers", "containers", "ephemeralContainers"):
        out += [(field, c) for c in spec.get(field) or []]
    return out


def check_pods(objects: list[tuple[str, dict]]) -> str:
    """Non-root and restricted-profile securityContext everywhere; probes on servers."""
    errors, pods, containers = [], 0, 0
    for _, obj in objects:
        spec = pod_spec(obj)
        if spec is None:
            continue
        pods += 1
        pod_sc = spec.get("securityContext") or {}
        for field, c in all_containers(spec):
            containers += 1
            sc = c.get("securityContext") or {}
            where = f"{ident(obj)} {field}/{c.get('name')}"
            user = sc.get("runAsUser", pod_sc.get("runAsUser"))
            non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
            if user == 0:
                errors.append(f"{where}: runs as root (runAsUser 0)")
            elif not (non_root is True or (user is not None and user != 0)):
                errors.append(f"{where}: may run as root (neither runAsNonRoot: true nor a non-zero runAsUser)")
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                errors.append(f"{where}: privileged")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                errors.append(f"{where}: capabilities.drop lacks ALL")
            if sc.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{where}: readOnlyRootFilesystem is not true")
            seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                errors.append(f"{where}: seccompProfile is not RuntimeDefault")
            if obj["kind"] in SERVER_KINDS and field == "containers":
                for probe in ("livenessProbe", "readinessProbe"):
                    if not c.get(probe):
                        errors.append(f"{where}: no {probe}")
    if errors:
        raise Failure("\n".join(errors))
    if pods == 0:
        raise Failure("no pod-bearing objects rendered")
    return f"{containers} containers in {pods} pod templates non-root and hardened; servers probed"


def matches(selector: dict, labels: dict) -> bool:
    if selector.get("matchExpressions"):
        for expr in selector["matchExpressions"]:
            value, op, vals = labels.get(expr["key"]), expr["operator"], expr.get("values") or []
            ok = {
                "In": value in vals,
                "NotIn": value not in vals,
                "Exists": expr["key"] in labels,
                "DoesNotExist": expr["key"] not in labels,
            }[op]
            if not ok:
                return False
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def check_production(objects: list[tuple[str, dict]]) -> str:
    """Each component: Deployment + PDB + HPA + NetworkPolicy, all pointing at it."""
    objs = [o for _, o in objects]
    errors = []
    for component in COMPONENTS:
        deployments = [
            o for o in objs
            if o["kind"] == "Deployment"
            and o["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]
        if len(deployments) != 1:
            errors.append(f"{component}: expected one Deployment, found {len(deployments)}")
            continue
        dep = deployments[0]
        pod_labels = dep["spec"]["template"]["metadata"]["labels"]
        if not matches(dep["spec"]["selector"], pod_labels):
            errors.append(f"{component}: Deployment selector does not match its pod labels")
        pdbs = [o for o in objs if o["kind"] == "PodDisruptionBudget" and matches(o["spec"].get("selector", {}), pod_labels)]
        hpas = [
            o for o in objs
            if o["kind"] == "HorizontalPodAutoscaler"
            and o["spec"]["scaleTargetRef"].get("kind") == "Deployment"
            and o["spec"]["scaleTargetRef"].get("name") == dep["metadata"]["name"]
        ]
        # A policy selecting every pod of the release (e.g. default-deny) does not count: the
        # component needs one of its own.
        nps = [
            o for o in objs
            if o["kind"] == "NetworkPolicy"
            and (o["spec"].get("podSelector", {}).get("matchLabels") or {}).get("app.kubernetes.io/component") == component
            and matches(o["spec"]["podSelector"], pod_labels)
        ]
        for kind, found in (("PodDisruptionBudget", pdbs), ("HorizontalPodAutoscaler", hpas), ("NetworkPolicy", nps)):
            if not found:
                errors.append(f"{component}: no {kind}")
        if hpas and "replicas" in dep["spec"]:
            errors.append(f"{component}: Deployment sets replicas although an HPA owns them")
        if nps and not any({"Ingress", "Egress"} <= set(np["spec"].get("policyTypes", [])) for np in nps):
            errors.append(f"{component}: its NetworkPolicy does not restrict both ingress and egress")
        if pdbs and dep["spec"].get("replicas", 2) < 2 and not hpas:
            errors.append(f"{component}: a PDB with fewer than 2 replicas blocks node drains")
    if errors:
        raise Failure("\n".join(errors))
    return f"{len(COMPONENTS)} components each have a PDB, an HPA and a NetworkPolicy"


def sizing(objects: list[tuple[str, dict]]) -> dict[str, dict[str, Any]]:
    """Per component: its HPA's bounds and metrics, and each container's resources and L1 budget."""
    objs = [o for _, o in objects]
    config_maps = {o["metadata"]["name"]: o.get("data") or {} for o in objs if o["kind"] == "ConfigMap"}
    out: dict[str, dict[str, Any]] = {}
    for component in COMPONENTS:
        deps = [
            o for o in objs
            if o["kind"] == "Deployment"
            and o["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        ]
        if len(deps) != 1:
            continue
        dep = deps[0]
        hpa = next(
            (o for o in objs if o["kind"] == "HorizontalPodAutoscaler"
             and o["spec"]["scaleTargetRef"].get("name") == dep["metadata"]["name"]),
            None,
        )
        containers = {}
        for c in dep["spec"]["template"]["spec"].get("containers", []):
            # The container's environment as the kubelet builds it: ConfigMaps first, then env.
            env: dict[str, Any] = {}
            for source in c.get("envFrom", []):
                env.update(config_maps.get((source.get("configMapRef") or {}).get("name"), {}))
            env.update({e["name"]: e.get("value") for e in c.get("env", []) if "value" in e})
            containers[c["name"]] = {
                "resources": c.get("resources", {}),
                "L1 budget": env.get("KAIGO_ELIGIBILITY__L1_MAX_BYTES"),
                "worker threads": env.get("KAIGO_SERVER__WORKER_THREADS"),
            }
        out[component] = {
            "HPA minReplicas": hpa["spec"].get("minReplicas") if hpa else None,
            "HPA maxReplicas": hpa["spec"].get("maxReplicas") if hpa else None,
            "HPA metrics": hpa["spec"].get("metrics") if hpa else None,
            "containers": containers,
        }
    return out


def check_sizing_agrees(chart: list[tuple[str, dict]], overlay: list[tuple[str, dict]]) -> str:
    """The chart's production profile and the production overlay size every component alike:
    both follow docs/capacity.md, and a change to one alone is a drift from the plan."""
    a, b = sizing(chart), sizing(overlay)
    errors = []
    for component in COMPONENTS:
        if component not in a or component not in b:
            errors.append(f"{component}: missing from the {'chart' if component not in a else 'overlay'}")
            continue
        for key in ("HPA minReplicas", "HPA maxReplicas", "HPA metrics"):
            if a[component][key] != b[component][key]:
                errors.append(f"{component}: {key} chart {a[component][key]} != overlay {b[component][key]}")
        for name, c in a[component]["containers"].items():
            other = b[component]["containers"].get(name)
            if other is None:
                errors.append(f"{component}: container {name} missing from the overlay")
                continue
            for key in ("resources", "L1 budget", "worker threads"):
                if c[key] != other[key]:
                    errors.append(f"{component}/{name}: {key} chart {c[key]} != overlay {other[key]}")
    if errors:
        raise Failure("\n".join(errors))
    return f"{len(COMPONENTS)} components: the same HPA bounds and metrics, resources, L1 budget and worker threads"


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


GATEWAY_KEY_VARS = ("KAIGO_AUTH__JWKS_URL", "KAIGO_AUTH__JWKS_FILE", "KAIGO_AUTH__PUBLIC_KEY_FILES")
FILE_VARS = (
    "KAIGO_AUTH__JWKS_FILE",
    "KAIGO_AUTH__PUBLIC_KEY_FILES",
    "KAIGO_GATEWAY__TLS__CERT_FILE",
    "KAIGO_GATEWAY__TLS__KEY_FILE",
    "KAIGO_GATEWAY__TLS__CLIENT_CA_FILE",
)


def gateway_parts(objects: list[tuple[str, dict]]) -> tuple[dict, dict, dict[str, dict]]:
    """The gateway's Deployment, its own ConfigMap's data, and every ConfigMap by name."""
    objs = [o for _, o in objects]
    deps = [
        o for o in objs
        if o["kind"] == "Deployment"
        and o["spec"]["template"]["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "gateway"
    ]
    if len(deps) != 1:
        raise Failure(f"expected one gateway Deployment, found {len(deps)}")
    config_maps = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ConfigMap"}
    dep = deps[0]
    own = config_maps.get(dep["metadata"]["name"])
    if own is None:
        raise Failure(f"no ConfigMap {dep['metadata']['name']}")
    return dep, own.get("data") or {}, config_maps


def check_gateway_starts(objects: list[tuple[str, dict]]) -> str:
    """The gateway has a way to verify tokens, and every file a setting names is mounted with the
    keys the setting expects (what `kaigo serve gateway` reads at start)."""
    dep, data, config_maps = gateway_parts(objects)
    if not any(data.get(v) for v in GATEWAY_KEY_VARS):
        raise Failure(f"the gateway has none of {', '.join(GATEWAY_KEY_VARS)}: it would exit 64")
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts") or []}
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    errors, files = [], 0
    for var in FILE_VARS:
        for path in filter(None, (data.get(var) or "").split(",")):
            files += 1
            directory, name = path.rsplit("/", 1)
            volume = volumes.get(mounts.get(directory, ""))
            if volume is None:
                errors.append(f"{var}: {path} is on no mounted volume")
                continue
            if "configMap" in volume:
                cm = config_maps.get(volume["configMap"]["name"])
                items = [i["path"] for i in volume["configMap"].get("items") or []] or list((cm or {}).get("data") or {})
                if cm is None or name not in items:
                    errors.append(f"{var}: {path} is not a key of ConfigMap {volume['configMap']['name']}")
            elif "secret" in volume:
                items = [i["path"] for i in volume["secret"].get("items") or []]
                if items and name not in items:
                    errors.append(f"{var}: {path} is not among the Secret's items {items}")
            else:
                errors.append(f"{var}: {path} is on a volume that is neither a ConfigMap nor a Secret")
    if errors:
        raise Failure("\n".join(errors))
    return f"token keys configured; {files} file settings each on a mounted ConfigMap or Secret"


def check_gateway_tls(objects: list[tuple[str, dict]]) -> str:
    """gateway.tls: certificate, key and client CA from Secrets; TCP probes; helm test around it."""
    dep, data, _ = gateway_parts(objects)
    errors = []
    for var in ("KAIGO_GATEWAY__TLS__CERT_FILE", "KAIGO_GATEWAY__TLS__KEY_FILE", "KAIGO_GATEWAY__TLS__CLIENT_CA_FILE"):
        if not data.get(var):
            errors.append(f"{var} is not set")
    pod = dep["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in pod.get("volumes") or [] if "secret" in v}
    if not {"kaigo-gateway-tls", "kaigo-client-ca"} <= secrets:
        errors.append(f"the TLS Secrets are not mounted (secret volumes: {sorted(secrets)})")
    container = pod["containers"][0]
    if any(e.get("name", "").startswith("KAIGO_GATEWAY__TLS") for e in container.get("env") or []):
        errors.append("TLS settings came through env, not the chart's values")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if "grpc" in (container.get(probe) or {}) or "tcpSocket" not in (container.get(probe) or {}):
            errors.append(f"{probe} is not a TCP probe (kubelet's gRPC probe cannot speak TLS)")
    tests = [o for _, o in objects if o["kind"] == "Pod" and o["metadata"]["name"].endswith("-test-health")]
    for test in tests:
        for c in test["spec"]["containers"]:
            endpoint = c["args"][c["args"].index("--endpoint") + 1]
            if "gateway" in endpoint:
                errors.append(f"helm test container {c['name']} still asks the TLS gateway in plaintext: {endpoint}")
    if errors:
        raise Failure("\n".join(errors))
    return "certificate, key and client CA mounted from Secrets; TCP probes; helm test asks the services"


def check_lint(values: dict[str, Any] | None) -> str:
    report = helm.lint(CHART, values, strict=True, kube_version=f"v{KUBE_VERSION}")
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    if problems or report.get("errors"):
        lines = [f"[{m['severity']}] {m['path']}: {m['error'].strip()}" for m in problems]
        lines += [e.strip() for e in report.get("errors", []) if e.strip() not in "\n".join(lines)]
        raise Failure("\n".join(lines))
    infos = [m["error"] for m in report.get("messages", []) if m.get("severity") == 1]
    return f"no warnings or errors{' (info: ' + '; '.join(infos) + ')' if infos else ''}"


def check_must_fail(values: dict[str, Any], needle: str) -> str:
    try:
        render_chart(values)
    except Failure as exc:
        if needle not in str(exc):
            raise Failure(f"refused, but the message does not name {needle!r}: {exc}")
        first = str(exc).strip().splitlines()[-1].strip()
        return f"refused: {first[:100]}"
    raise Failure(f"rendered without error: {values}")


def check_dockerfile() -> str:
    """The image contract the chart relies on: binary path, non-root user, no shell needed."""
    text = (ROOT / "Dockerfile").read_text()
    stages = [s for s in text.split("\nFROM ")[1:]]
    if not stages:
        raise Failure("Dockerfile has no FROM stages")
    runtime = stages[-1]
    errors = []
    if "cargo build --release --locked -p kaigo" not in text:
        errors.append("builder does not run `cargo build --release --locked -p kaigo`")
    if "distroless" not in text.split("RUNTIME_IMAGE=", 1)[-1].splitlines()[0]:
        errors.append("runtime image is not distroless")
    if "\nUSER 65532" not in runtime:
        errors.append("runtime stage does not set USER 65532")
    if 'ENTRYPOINT ["/usr/local/bin/kaigo"]' not in runtime:
        errors.append('runtime ENTRYPOINT is not ["/usr/local/bin/kaigo"]')
    if "RUN " in runtime:
        errors.append("runtime stage has a RUN step (there is no shell in distroless)")
    if errors:
        raise Failure("\n".join(errors))
    return "distroless runtime, USER 65532, ENTRYPOINT /usr/local/bin/kaigo (not built here: no Docker engine)"


def check_monitoring(objects: list[tuple[str, dict]], enabled: bool) -> str:
    """The metrics port, PodMonitor, PrometheusRule and dashboards: all there when enabled, none
    of them otherwise (off by default)."""
    import json

    deployments = [o for _, o in objects if o["kind"] == "Deployment"]
    monitors = [o for _, o in objects if o["kind"] == "PodMonitor"]
    rules = [o for _, o in objects if o["kind"] == "PrometheusRule"]
    dashboards = [o for _, o in objects if o["kind"] == "ConfigMap" and "-dashboard-" in o["metadata"]["name"]]
    config = next((o for _, o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-config")), {})
    listen = config.get("data", {}).get("KAIGO_TELEMETRY__METRICS_LISTEN")
    ports = {
        d["metadata"]["name"]: [p for c in d["spec"]["template"]["spec"]["containers"] for p in c.get("ports", []) if p.get("name") == "metrics"]
        for d in deployments
    }
    if not enabled:
        found = [ident(o) for o in monitors + rules + dashboards] + [n for n, p in ports.items() if p]
        if listen or found:
            raise Failure(f"monitoring is off by default, yet rendered: {found or ''} {listen or ''}")
        return "off: no metrics port, PodMonitor, PrometheusRule or dashboards"
    errors = []
    if listen != "0.0.0.0:9464":
        errors.append(f"KAIGO_TELEMETRY__METRICS_LISTEN is {listen!r}, not 0.0.0.0:9464")
    errors += [f"Deployment/{n} has no container port named metrics on 9464" for n, p in ports.items() if [x["containerPort"] for x in p] != [9464]]
    if len(monitors) != 1:
        errors.append(f"{len(monitors)} PodMonitors, not 1")
    else:
        spec = monitors[0]["spec"]
        chosen = [e["values"] for e in spec["selector"].get("matchExpressions", []) if e["key"] == "app.kubernetes.io/component"]
        if sorted(chosen[0] if chosen else []) != sorted(COMPONENTS):
            errors.append(f"the PodMonitor selects components {chosen}, not {COMPONENTS}")
        endpoints = spec.get("podMetricsEndpoints", [])
        if [(e.get("port"), e.get("path")) for e in endpoints] != [("metrics", "/metrics")]:
            errors.append(f"the PodMonitor scrapes {endpoints}, not port metrics at /metrics")
        if monitors[0]["metadata"]["labels"].get("release") != "prometheus":
            errors.append("global.metrics.podMonitor.labels are not on the PodMonitor")
        for d in deployments:
            labels = d["spec"]["template"]["metadata"]["labels"]
            if not matches(spec["selector"], labels):
                errors.append(f"the PodMonitor does not select the pods of Deployment/{d['metadata']['name']}")
    if len(rules) != 1:
        errors.append(f"{len(rules)} PrometheusRules, not 1")
    elif rules[0]["spec"] != yaml.safe_load(RULES.read_text()):
        errors.append(f"the PrometheusRule's spec is not {RULES.relative_to(ROOT)}")
    files = sorted(p.name for p in DASHBOARDS.glob("*.json"))
    shipped = sorted(k for o in dashboards for k in o.get("data", {}))
    if shipped != files or not files:
        errors.append(f"dashboard ConfigMaps hold {shipped}, files/dashboards has {files}")
    for o in dashboards:
        for name, text in o["data"].items():
            board = json.loads(text)
            if not board.get("uid") or not board.get("panels"):
                errors.append(f"{ident(o)} {name}: a dashboard needs a uid and panels")
            if o["metadata"]["labels"].get("grafana_dashboard") != "1":
                errors.append(f"{ident(o)} lacks the sidecar label grafana_dashboard")
    policies = [o for _, o in objects if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/component") in COMPONENTS]
    for o in policies:
        if not any(p.get("port") == 9464 for rule in o["spec"].get("ingress", []) for p in rule.get("ports", [])):
            errors.append(f"{ident(o)} does not let scrapes reach port 9464")
    if errors:
        raise Failure("\n".join(errors))
    return f"metrics port on {len(deployments)} Deployments, PodMonitor, PrometheusRule, {len(shipped)} dashboards, {len(policies)} NetworkPolicies"


def check_promtool() -> str:
    """promtool check rules and promtool test rules on the chart's alert rules."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise Failure(
            "promtool not found: it checks and unit-tests files/prometheus/kaigo-rules.yaml "
            "(apt-get install prometheus, or bash scripts/image/install-tools.sh as root)"
        )
    out = []
    for args in (["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name]):
        proc = subprocess.run([promtool, *args], cwd=RULES.parent, capture_output=True, text=True)
        if proc.returncode != 0:
            raise Failure(f"promtool {' '.join(args)}:\n{(proc.stdout + proc.stderr).strip()}")
        out.append((proc.stdout + proc.stderr).strip().splitlines()[-1].strip())
    return "; ".join(out)


def check_test_services() -> str:
    """The helm test Pod's gRPC service names must exist in proto/ (when it is there)."""
    import re

    proto = ROOT / "proto"
    if not proto.is_dir():
        return "skipped: no proto/ directory"
    declared = set()
    for path in proto.rglob("*.proto"):
        text = path.read_text()
        package = re.search(r"^package\s+([\w.]+)\s*;", text, re.M)
        for service in re.findall(r"^service\s+(\w+)", text, re.M):
            declared.add(f"{package.group(1)}.{service}" if package else service)
    with helm.Chart.load(CHART) as chart:
        wanted = [s for s in chart.values["tests"]["services"] if s]
    missing = [s for s in wanted if s not in declared]
    if missing:
        raise Failure("not declared in proto/: " + ", ".join(missing))
    return f"{len(wanted)} names found in proto/"


def run_generator(script: str) -> str:
    proc = subprocess.run([sys.executable, str(HERE / script), "--check"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Failure((proc.stderr or proc.stdout).strip())
    return "up to date"


def kustomize(overlay: Path) -> list[tuple[str, dict]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise Failure("kubectl not found on PATH: it renders the kustomize overlays (`kubectl kustomize`)")
    proc = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise Failure(f"kubectl kustomize {overlay.relative_to(ROOT)} failed:\n{proc.stderr.strip()}")
    return parse_documents([(str(overlay.relative_to(ROOT)), proc.stdout)])


def main() -> int:
    started = time.monotonic()
    r = Report()
    print(
        f"chart-check: helm SDK {helm.helm_sdk_version()} (helm-python-sdk {helm.__version__}), "
        f"kubernetes-validate {kubernetes_validate.__version__}, Kubernetes schemas {KUBE_VERSION}",
        flush=True,
    )

    r.check("Dockerfile image contract", check_dockerfile)
    r.check("helm test service names exist in proto/", check_test_services)
    r.check("values.schema.json is generated from values.yaml", lambda: run_generator("gen_schema.py"))
    r.check("k8s/base is generated from the chart", lambda: run_generator("gen_kustomize_base.py"))
    r.check("promtool check rules, promtool test rules", check_promtool)

    chart_production: list[tuple[str, dict]] = []
    for profile, path in PROFILES.items():
        values = load_values(path)
        if profile == "gateway-tls":
            values = deep_merge(load_values(PROFILES["minimal"]) or {}, GATEWAY_TLS)
        if profile == "monitoring":
            values = deep_merge(load_values(PROFILES["minimal"]) or {}, MONITORING)
        r.check(f"helm lint --strict [{profile}]", lambda v=values: check_lint(v))
        rendered: list[tuple[str, dict]] = []

        def render(v: dict | None = values, out: list = rendered) -> str:
            out.extend(render_chart(v))
            kinds: dict[str, int] = {}
            for _, o in out:
                kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
            return ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))

        if r.check(f"helm template [{profile}]", render) is None:
            continue
        r.check(f"kubernetes-validate [{profile}]", lambda o=rendered: validate_objects(o))
        r.check(f"pod security and probes [{profile}]", lambda o=rendered: check_pods(o))
        if profile == "production":
            r.check(f"PDB + HPA + NetworkPolicy per component [{profile}]", lambda o=rendered: check_production(o))
            chart_production = rendered
        r.check(f"the gateway has what it starts with [{profile}]", lambda o=rendered: check_gateway_starts(o))
        if profile == "gateway-tls":
            r.check(f"gateway TLS and mutual TLS from Secrets [{profile}]", lambda o=rendered: check_gateway_tls(o))
        r.check(
            f"monitoring objects {'on' if profile == 'monitoring' else 'off by default'} [{profile}]",
            lambda o=rendered, on=profile == "monitoring": check_monitoring(o, on),
        )

    for description, values, needle in MUST_FAIL:
        r.check(f"schema/templates refuse: {description}", lambda v=values, n=needle: check_must_fail(v, n))

    overlays = sorted(p for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists()) if OVERLAYS.exists() else []
    if not overlays:
        r.check("kustomize overlays exist", lambda: (_ for _ in ()).throw(Failure(f"none under {OVERLAYS}")))
    for overlay in overlays:
        name = f"k8s/overlays/{overlay.name}"
        rendered = []

        def build(o: Path = overlay, out: list = rendered) -> str:
            out.extend(kustomize(o))
            return f"{len(out)} objects"

        if r.check(f"kubectl kustomize [{name}]", build) is None:
            continue
        r.check(f"kubernetes-validate [{name}]", lambda o=rendered: validate_objects(o))
        r.check(f"pod security and probes [{name}]", lambda o=rendered: check_pods(o))
        if overlay.name == "production":
            r.check(f"PDB + HPA + NetworkPolicy per component [{name}]", lambda o=rendered: check_production(o))
            r.check(
                f"sizing agrees with the chart's production profile [{name}]",
                lambda o=rendered: check_sizing_agrees(chart_production, o),
            )

    took = time.monotonic() - started
    print(f"chart-check finished in {took:.1f}s")
    if r.failed:
        print("failed: " + "; ".join(r.failed))
    print(f"{r.passed} passed, {len(r.failed)} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main())
