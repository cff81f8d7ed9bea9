#!/usr/bin/env bash
# chart-check: lint, render and validate charts/kaigo and the kustomize overlays in k8s/,
# with Helm's real engine (helm-python-sdk) and the Kubernetes schemas in strict mode
# (kubernetes-validate). No cluster, no helm binary, no network beyond PyPI on first run.
#
#   bash scripts/chart-check/run.sh
#
# Needs python3 (>= 3.10) with venv, and kubectl on PATH for `kubectl kustomize`.
# The virtualenv lives in .tools/chart-venv (git-ignored) and is rebuilt when
# requirements.txt changes. Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/.tools/chart-venv"
req="$here/requirements.txt"
python="${PYTHON:-python3}"

die() { echo "chart-check: $*" >&2; exit 1; }

command -v "$python" >/dev/null || die "$python not found (set PYTHON=/path/to/python3.10+)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$python is $("$python" -V 2>&1); helm-python-sdk needs Python >= 3.10"
command -v kubectl >/dev/null || die "kubectl not found on PATH; it renders k8s/overlays (kubectl kustomize)"

want="$(sha256sum "$req" | cut -d' ' -f1)"
stamp="$venv/.requirements.sha256"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]]; then
  echo "chart-check: installing pinned tools into ${venv#"$root"/} (once)"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$python" -m venv "$venv" || die "could not create a virtualenv with $python -m venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" \
    || die "pip install -r ${req#"$root"/} failed (is PyPI reachable?)"
  echo "$want" >"$stamp"
fi

cd "$root"
exec "$venv/bin/python" "$here/chart_check.py" "$@"
