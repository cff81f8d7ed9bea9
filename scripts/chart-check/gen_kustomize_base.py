#!/usr/bin/env python3
"""Generate k8s/base (the kustomize base) from charts/kaigo.

Why generated: the base must have the same topology as the chart (six Deployments,
ClusterIP + headless Services, ConfigMaps, ServiceAccounts, PDBs, NetworkPolicies and the
migration Job). Rendering it from the chart with kustomize-base-values.yaml keeps the two
from drifting; run.sh fails when the committed base differs from what this writes.

What changes on the way from Helm output to a kustomize base:
* Helm-only metadata goes: helm.sh/chart, app.kubernetes.io/managed-by and
  app.kubernetes.io/version labels, checksum/* annotations, helm.sh/hook* annotations,
  metadata.namespace (overlays set the namespace);
* ConfigMaps become configMapGenerator entries (env files), so their names get a content
  hash and a config change rolls the pods, as the chart's checksum annotations do;
* helm-test objects are dropped.

Usage:
    gen_kustomize_base.py           write k8s/base
    gen_kustomize_base.py --check   exit 1 if k8s/base is not what would be written
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import helm_python as helm
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "kaigo"
BASE = ROOT / "k8s" / "base"
VALUES = Path(__file__).resolve().parent / "kustomize-base-values.yaml"
HEADER = (
    "# Generated from charts/kaigo by scripts/chart-check/gen_kustomize_base.py "
    "(values: scripts/chart-check/kustomize-base-values.yaml).\n"
    "# Do not edit: change the chart or those values and regenerate; run.sh checks this.\n"
)
DROP_LABELS = {"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/version"}
FILE_NAMES = {
    "Deployment": "deployment",
    "Service": "service",
    "ServiceAccount": "serviceaccount",
    "PodDisruptionBudget": "pdb",
    "NetworkPolicy": "networkpolicy",
    "Job": "job",
    "HorizontalPodAutoscaler": "hpa",
}


def clean_meta(meta: dict) -> None:
    meta.pop("namespace", None)
    labels = meta.get("labels") or {}
    for key in DROP_LABELS:
        labels.pop(key, None)
    annotations = meta.get("annotations") or {}
    for key in list(annotations):
        if key.startswith(("helm.sh/", "checksum/")):
            del annotations[key]
    if not annotations:
        meta.pop("annotations", None)


def clean(obj: dict) -> dict:
    clean_meta(obj["metadata"])
    template = obj.get("spec", {}).get("template")
    if template:
        clean_meta(template["metadata"])
    return obj


class Dumper(yaml.SafeDumper):
    """Indent block sequences under their key, as the chart does."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):  # noqa: ANN201
        return super().increase_indent(flow, False)


def dump(obj: object) -> str:
    return yaml.dump(obj, Dumper=Dumper, sort_keys=False, default_flow_style=False, width=100)


def env_file(data: dict) -> str:
    lines = []
    for key, value in data.items():
        if "\n" in str(value):
            raise SystemExit(f"gen_kustomize_base: multi-line value for {key} cannot go in an env file")
        lines.append(f"{key}={value}")
    return HEADER + "\n".join(lines) + "\n"


def build(out: Path) -> None:
    values = yaml.safe_load(VALUES.read_text())
    try:
        with helm.Chart.load(CHART) as chart:
            rendered = chart.render(values, name="kaigo", namespace="kaigo", is_install=True)
    except helm.HelmError as exc:
        raise SystemExit(f"gen_kustomize_base: the chart does not render:\n{str(exc).strip()}") from exc

    files: dict[str, str] = {}
    resources: list[str] = []
    generators: list[dict] = []
    for template, text in sorted(rendered.items()):
        if template.endswith("NOTES.txt") or "/tests/" in template:
            continue
        for obj in yaml.safe_load_all(text):
            if not obj:
                continue
            obj = clean(obj)
            component = obj["metadata"].get("labels", {}).get("app.kubernetes.io/component", "common")
            name = obj["metadata"]["name"]
            if obj["kind"] == "ConfigMap":
                folder = "" if component == "config" else f"{component}/"
                path = f"{folder}config.env"
                files[path] = env_file(obj.get("data") or {})
                generators.append(
                    {
                        "name": name,
                        "envs": [path],
                        "options": {"labels": obj["metadata"]["labels"]},
                    }
                )
                continue
            if obj["kind"] == "Secret":
                raise SystemExit("gen_kustomize_base: the base must not contain a Secret")
            stem = FILE_NAMES[obj["kind"]]
            if obj["kind"] == "Service" and obj["spec"].get("clusterIP") == "None":
                stem = "service-headless"
            path = f"{component}/{stem}.yaml"
            if path in files:
                raise SystemExit(f"gen_kustomize_base: two objects want {path}")
            files[path] = HEADER + dump(obj)
            resources.append(path)

    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "labels": [{"pairs": {"app.kubernetes.io/managed-by": "kustomize"}}],
        "resources": resources,
        "configMapGenerator": generators,
    }
    files["kustomization.yaml"] = HEADER + dump(kustomization)
    for rel, text in files.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def snapshot(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "base"
        build(fresh)
        if "--check" in sys.argv[1:]:
            want, have = snapshot(fresh), snapshot(BASE)
            stale = sorted(k for k in want.keys() | have.keys() if want.get(k) != have.get(k))
            if stale:
                print(
                    "k8s/base is out of date with charts/kaigo (" + ", ".join(stale[:8])
                    + ("…" if len(stale) > 8 else "")
                    + "); run `.tools/chart-venv/bin/python scripts/chart-check/gen_kustomize_base.py`",
                    file=sys.stderr,
                )
                return 1
            return 0
        if BASE.exists():
            shutil.rmtree(BASE)
        shutil.copytree(fresh, BASE)
    print(f"wrote {BASE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
