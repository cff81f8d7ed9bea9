#!/usr/bin/env bash
# End-to-end browser tests: builds the screens if needed, starts `kaigo dev` on a free
# loopback port with a fresh data directory, runs Playwright against it with Debian's
# Chromium (headless), and saves a screenshot of each screen to web/screenshots/.
# Works from any directory (the Makefile runs it from the repository root).
#   KAIGO_BIN   the kaigo binary (default: <repo>/target/debug/kaigo; build it first)
#   E2E_ARGS    extra arguments for `playwright test` (e.g. a file name or --grep)
set -euo pipefail

WEB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$(cd "$WEB_DIR/.." && pwd)"
export KAIGO_BIN="${KAIGO_BIN:-$ROOT/target/debug/kaigo}"
case "$KAIGO_BIN" in /*) ;; *) KAIGO_BIN="$PWD/$KAIGO_BIN" ;; esac
if [ ! -x "$KAIGO_BIN" ]; then
  echo "e2e: $KAIGO_BIN not found; build it first (cargo build -p kaigo)" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
apt_install() {
  $SUDO apt-get install -y --no-install-recommends "$@" \
    || { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends "$@"; }
}
if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing Debian's chromium" >&2
  apt_install chromium
fi
# Japanese glyphs for the screenshots (without a CJK font they render as boxes).
if ! fc-list :lang=ja 2>/dev/null | grep -q .; then
  echo "e2e: installing fonts-noto-cjk" >&2
  apt_install fonts-noto-cjk
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export NPM_CONFIG_AUDIT=false NPM_CONFIG_FUND=false
BUF="$ROOT/tools/buf/node_modules/.bin/buf"
if [ ! -x "$BUF" ]; then
  (cd "$ROOT/tools/buf" && npm ci --loglevel=error)
fi
cd "$WEB_DIR"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --loglevel=error
fi
# Build when there is no build, or a source, contract or config is newer than it.
if [ ! -f dist/index.html ] || [ ! -d src/gen ] \
  || [ -n "$(find src index.html vite.config.ts tsconfig.json buf.gen.yaml package-lock.json proto "$ROOT/proto" \
          -newer dist/index.html -type f -not -path 'src/gen/*' -print -quit)" ]; then
  npm run build
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/kaigo-e2e.XXXXXX")"
KAIGO_PID=""
cleanup() {
  status=$?
  if [ -n "$KAIGO_PID" ] && kill -0 "$KAIGO_PID" 2>/dev/null; then
    kill "$KAIGO_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$KAIGO_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$KAIGO_PID" 2>/dev/null || true
    wait "$KAIGO_PID" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$TMP/kaigo.log" ]; then
    echo "e2e: last lines of the kaigo dev log:" >&2
    tail -n 40 "$TMP/kaigo.log" >&2
  fi
  rm -rf "$TMP"
  exit "$status"
}
trap cleanup EXIT INT TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
BASE="http://127.0.0.1:$PORT"
KAIGO_GATEWAY__WEB__ROOT="$WEB_DIR/dist" "$KAIGO_BIN" dev --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" \
  >"$TMP/kaigo.log" 2>&1 &
KAIGO_PID=$!
# The data directory, for the virtual card reader (`kaigo card sign --data-dir`) in users.spec.ts.
export KAIGO_DATA_DIR="$TMP/data"

echo "e2e: waiting for kaigo dev on $BASE" >&2
ready=""
for _ in $(seq 1 240); do
  if ! kill -0 "$KAIGO_PID" 2>/dev/null; then
    echo "e2e: kaigo dev exited early" >&2
    exit 1
  fi
  if curl -fsS -o /dev/null "$BASE/auth/config" 2>/dev/null && curl -fsS -o /dev/null "$BASE/" 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  echo "e2e: kaigo dev did not serve /auth/config and / within 120 s" >&2
  exit 1
fi

# A full run replaces every screenshot; a partial one (E2E_ARGS) only its own.
if [ -z "${E2E_ARGS:-}" ]; then rm -rf screenshots; fi
mkdir -p screenshots
# shellcheck disable=SC2086
KAIGO_BASE_URL="$BASE" npx playwright test ${E2E_ARGS:-}
echo "e2e: screenshots in $WEB_DIR/screenshots:" >&2
ls screenshots >&2
