#!/usr/bin/env bash
# Renders charts/kaigo with a values file as `helm template kaigo charts/kaigo -f VALUES` would
# (Helm's own engine, from the virtualenv scripts/chart-check/run.sh keeps in .tools/chart-venv),
# for the pod test: POD_TEST_MANIFESTS=<(this) make pod-test. The helm-test Pod is left out.
#
#   bash scripts/image/render-chart.sh charts/kaigo/ci/minimal-values.yaml > rendered.yaml
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
values="${1:?usage: render-chart.sh VALUES}"
python="$root/.tools/chart-venv/bin/python"
[[ -x "$python" ]] || { echo "render-chart: run make chart-check once (it makes $python)" >&2; exit 1; }
"$python" - "$root/charts/kaigo" "$values" <<'PY'
import sys

import helm_python as helm
import yaml

values = yaml.safe_load(open(sys.argv[2]).read()) or {}
with helm.Chart.load(sys.argv[1]) as chart:
    rendered = chart.render(values, name="kaigo", namespace="kaigo", is_install=True)
for template, text in sorted(rendered.items()):
    if template.endswith("NOTES.txt") or "/tests/" in template:
        continue
    print(f"---\n# Source: {template}\n{text}")
PY
