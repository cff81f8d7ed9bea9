# Sourced by the load-test scripts (`. loadtest/lib.sh`, from the repository's root): the
# start-up and clean-up each of them needs, written once.
#
#   lt_begin NAME   WORK (a new temporary directory), DB and PGURL (a new PostgreSQL database
#                   kaigo_NAME_<pid> on 127.0.0.1:5432, created now) and PIDS (processes to stop);
#                   at exit — normal, error or signal — every process in PIDS is stopped, the
#                   function lt_at_exit run if the script defines one, the database dropped and
#                   WORK removed. Nothing of anyone else's is touched.
#   say TEXT        a time- and load-stamped line on stderr (and in $OUT/log.txt when OUT is set)
#   lt_up ADDR      waits (up to 10 s) until a kaigo endpoint (host:port) answers its health
#                   check; fails otherwise (under `set -e`, the script stops)
#   lt_dev_keys DIR PORT   the dev signing key pair in DIR (`kaigo dev` started on PORT and
#                   stopped): tokens from `kaigo token --data-dir DIR`, the gateway verifying with
#                   DIR/dev-signing-key.pub.pem
#   lt_haproxy PORT UPSTREAM   HAProxy (Debian's 2.6; one thread, plain HTTP/2 on both sides, no
#                   checks, no log) on 127.0.0.1:PORT in front of UPSTREAM (host:port): the bare
#                   proxy hop the benchmarks compare the gateway with; its pid in PID_haproxy,
#                   stopped at exit
#   lt_redis PORT [ARGS...]   a private Redis on 127.0.0.1:PORT (no persistence; hashes of up to
#                   256-byte values kept as listpacks, the L2 setting), stopped at exit; its pid
#                   in LT_REDIS_PID
#   lt_pg_ticks     PostgreSQL's CPU time so far (utime + stime, clock ticks) on this machine: its
#                   live processes, plus what the postmaster collected from backends that ended
#                   (cutime + cstime), so a difference of two readings counts every backend that
#                   ran between them. It counts every database's work: read it on a quiet machine.
#   lt_lock_fd      opens LOCK (default /tmp/loadtest.lock) on descriptor 9 for lock and unlock,
#                   which hold it around each measurement so that no two benchmarks on the
#                   machine overlap; processes started meanwhile should get `9>&-`
# BIN must name the kaigo binary before lt_up or lt_dev_keys is called.

lt_begin() {
  WORK=$(mktemp -d)
  DB="kaigo_$1_$$"
  PGURL="postgres://postgres@127.0.0.1:5432/$DB"
  PIDS=()
  trap lt_end EXIT
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB" >/dev/null
}

lt_end() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if declare -F lt_at_exit >/dev/null; then lt_at_exit || true; fi
  sleep 0.5
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

say() {
  local line
  line="[$(date +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)] $*"
  if [ -n "${OUT:-}" ]; then echo "$line" | tee -a "$OUT/log.txt" >&2; else echo "$line" >&2; fi
}

lt_up() {
  for _ in $(seq 1 100); do "$BIN" health --endpoint "http://$1" >/dev/null 2>&1 && return; sleep 0.1; done
  echo "nothing answers on $1" >&2
  return 1
}

lt_dev_keys() {
  local dir=$1 port=$2 dev
  mkdir -p "$dir"
  "$BIN" dev --listen "127.0.0.1:$port" --data-dir "$dir" 9>&- >/dev/null 2>&1 &
  dev=$!
  # The public key is written first, the private one last.
  for _ in $(seq 1 100); do [ -s "$dir/dev-signing-key.pem" ] && break; sleep 0.1; done
  kill "$dev"; wait "$dev" 2>/dev/null || true
  [ -s "$dir/dev-signing-key.pem" ] || { echo "kaigo dev wrote no signing key in $dir" >&2; exit 1; }
}

lt_haproxy() {
  local port=$1 upstream=$2
  cat >"$WORK/haproxy-$port.cfg" <<CFG
global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:$port proto h2
  default_backend be
backend be
  server s1 $upstream proto h2
CFG
  haproxy -f "$WORK/haproxy-$port.cfg" -D -p "$WORK/haproxy-$port.pid" 9>&-
  PID_haproxy=$(cat "$WORK/haproxy-$port.pid")
  PIDS+=("$PID_haproxy")
}

lt_redis() {
  local port=$1
  shift
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --hash-max-listpack-value 256 "$@" 9>&- >/dev/null 2>&1 &
  PIDS+=($!)
  LT_REDIS_PID=$!
  sleep 0.5
}

lt_pg_ticks() {
  local postmaster t=0 pid
  postmaster=$(pgrep -o -x postgres) || { echo 0; return; }
  t=$(awk '{print $16 + $17}' "/proc/$postmaster/stat")
  for pid in $(pgrep -x postgres); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

lt_lock_fd() {
  exec 9>>"${LOCK:-/tmp/loadtest.lock}"
}
lock() { flock 9; say "lock taken: $*"; }
unlock() { flock -u 9; }
