# Shared by the scripts in scripts/image/ (sourced, not run).
#
# podman and buildah run here with their own storage under target/image/ (vfs: no overlay
# mounts needed), runc, cgroupfs and no default ulimits: the settings that work on a build
# machine without a Docker engine (see scripts/image/containers.conf). Nothing outside
# target/image/ is touched, so `make image-clean` removes every image, container and pod.

image_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGE_DIR="${IMAGE_DIR:-$image_root/target/image}"
IMAGE_NAME="${IMAGE_NAME:-localhost/kaigo}"
IMAGE_TAG="${IMAGE_TAG:-test}"
export CONTAINERS_CONF="$image_root/scripts/image/containers.conf"
_storage=(--root "$IMAGE_DIR/storage" --runroot "$IMAGE_DIR/run" --storage-driver vfs)

podman_() { podman "${_storage[@]}" --runtime runc --cgroup-manager cgroupfs "$@"; }
buildah_() { buildah "${_storage[@]}" "$@"; }

say() { echo "image: $*"; }
die() { echo "image: $*" >&2; exit 1; }

# Seconds since the epoch, for the figures each script prints.
now() { date +%s; }

# A free TCP port on 127.0.0.1 (bound, then released for a container to take).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The machine's PostgreSQL (trust on 127.0.0.1) for a test database of our own.
PG_ADMIN_URL="${KAIGO_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

# fixture_up DIR: a database kaigo_image_<random> on the machine's PostgreSQL, a private
# redis-server on a free loopback port (never the shared 6379), an internal secret, a documents
# key and an Ed25519 token key in DIR/keys (what `kaigo token --data-dir DIR/keys` signs with;
# readable by the image's user, it is a throwaway) with its public half alone in DIR/public (what
# the gateway is given). Sets DB_NAME DB_URL REDIS_PORT REDIS_URL INTERNAL_SECRET DOCUMENTS_KEY
# KEY_DIR PUBLIC_DIR. fixture_down undoes all of it but DIR.
fixture_up() {
  local dir="$1"
  command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"
  command -v psql >/dev/null || die "psql is not installed (apt-get install postgresql-client)"
  DB_NAME="kaigo_image_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  psql -q "$PG_ADMIN_URL" -c "CREATE DATABASE $DB_NAME" >/dev/null || die "cannot create a database on $PG_ADMIN_URL"
  FIXTURE_DB="$DB_NAME"
  DB_URL="${PG_ADMIN_URL%/*}/$DB_NAME"
  REDIS_PORT="$(free_port)"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 1 50); do
    [[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]] && break
    sleep 0.1
  done
  FIXTURE_REDIS_PID="$(cat "$dir/redis.pid")"
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  INTERNAL_SECRET="$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  DOCUMENTS_KEY="k1:$(head -c 32 /dev/urandom | base64)"
  KEY_DIR="$dir/keys" PUBLIC_DIR="$dir/public"
  mkdir -p "$KEY_DIR" "$PUBLIC_DIR"
  openssl genpkey -algorithm ed25519 -out "$KEY_DIR/dev-signing-key.pem" 2>/dev/null
  openssl pkey -in "$KEY_DIR/dev-signing-key.pem" -pubout -out "$KEY_DIR/dev-signing-key.pub.pem"
  cp "$KEY_DIR/dev-signing-key.pub.pem" "$PUBLIC_DIR/"
  chmod 0755 "$dir" "$KEY_DIR" "$PUBLIC_DIR"
  chmod 0644 "$KEY_DIR"/* "$PUBLIC_DIR"/*
}

fixture_down() {
  if [[ -n "${FIXTURE_REDIS_PID:-}" ]]; then
    kill "$FIXTURE_REDIS_PID" 2>/dev/null || true
    FIXTURE_REDIS_PID=""
  fi
  if [[ -n "${FIXTURE_DB:-}" ]]; then
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $FIXTURE_DB WITH (FORCE)" >/dev/null || true
    FIXTURE_DB=""
  fi
}

# A python3 with PyYAML (kube_adapt.py needs it): the system's, else chart-check's virtualenv.
if python3 -c 'import yaml' 2>/dev/null; then
  PY_YAML=python3
else
  PY_YAML="$image_root/.tools/chart-venv/bin/python"
fi
