#!/usr/bin/env bash
# Starts moto's S3-compatible server on 127.0.0.1:PORT for the documents S3 tests.
#
#   services/documents/scripts/moto.sh PORT
#
# The first run creates a virtualenv under <repo>/.tools/moto (git-ignored) and installs
# moto[server] from PyPI into it; later runs reuse it. Needs python3 with the venv module.
# The server runs in the foreground until it is killed (the test kills it when done).
set -euo pipefail

port="${1:?usage: moto.sh PORT}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="$repo/.tools/moto"

if [ ! -x "$venv/bin/moto_server" ]; then
  # Several test processes may start at once: one installs, the others wait for it.
  mkdir -p "$repo/.tools"
  exec 9>"$repo/.tools/moto.lock"
  flock 9
  if [ ! -x "$venv/bin/moto_server" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]' >&2
  fi
  flock -u 9
fi

exec "$venv/bin/moto_server" -H 127.0.0.1 -p "$port"
