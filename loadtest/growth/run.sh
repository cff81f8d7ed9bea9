#!/usr/bin/env bash
# Bytes per record of the tables that grow with traffic, on PostgreSQL, for the projection in
# loadtest/README.md#growth-and-retention. Reproduce with
#   cargo build --release -p kaigo && bash loadtest/growth/run.sh
#   cargo run --release -p kaigo-platform --features testkit --example audit_copy_rate   # the audit trail
# Needs PostgreSQL on 127.0.0.1:5432 (trust) and redis-server. It creates its own database and
# a private Redis on its own port and removes both at exit.
#
# Eligibility's rows and outbox are written by the real service: PERSONS persons imported
# through the gateway, then a second extract of the same persons (another seed: other levels,
# ratios and periods) re-imported, which changes most of them and enqueues one
# `eligibility.changed` event per changed person. Idempotency records are written in SQL with
# the shape a write stores (see the INSERT below): the import stores none.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${KAIGO_BIN:-target/release/kaigo}
[ -x "$BIN" ] || { echo "build first: cargo build --release -p kaigo" >&2; exit 1; }
PERSONS=${PERSONS:-100000}
REDIS_PORT=${REDIS_PORT:-6395}
. loadtest/lib.sh
lt_begin growth    # WORK, DB, PGURL, PIDS; all stopped and dropped at exit
lt_redis "$REDIS_PORT"
export KAIGO_DATABASE__URL="$PGURL" KAIGO_INTERNAL_AUTH__SECRET="growth-internal-secret-of-at-least-32-bytes"
export KAIGO_REDIS__URL="redis://127.0.0.1:$REDIS_PORT" KAIGO_REDIS__KEY_PREFIX="growth:" KAIGO_TELEMETRY__LOG_LEVEL=warn
"$BIN" migrate eligibility >/dev/null
KAIGO_SERVER__LISTEN=127.0.0.1:50161 "$BIN" serve eligibility >"$WORK/eligibility.log" 2>&1 & PIDS+=($!)
lt_dev_keys "$WORK/keys" 50199
KAIGO_SERVER__LISTEN=127.0.0.1:50151 KAIGO_GATEWAY__LIMITS__RATE_PER_SEC=100000000 KAIGO_GATEWAY__LIMITS__BURST=100000000 \
  KAIGO_AUTH__PUBLIC_KEY_FILES="[\"$WORK/keys/dev-signing-key.pub.pem\"]" \
  KAIGO_GATEWAY__UPSTREAMS__ELIGIBILITY=http://127.0.0.1:50161 "$BIN" serve gateway >"$WORK/gateway.log" 2>&1 & PIDS+=($!)
for port in 50161 50151; do lt_up "127.0.0.1:$port"; done
TOKEN=$("$BIN" token --data-dir "$WORK/keys" --role insurer --insurer 435073 --ttl 2h)
"$BIN" gen insured --count "$PERSONS" --seed 7 >"$WORK/first.csv"
"$BIN" gen insured --count "$PERSONS" --seed 8 >"$WORK/second.csv"
"$BIN" import insured "$WORK/first.csv" --endpoint 127.0.0.1:50151 --token "$TOKEN" --chunk 5000
"$BIN" import insured "$WORK/second.csv" --endpoint 127.0.0.1:50151 --token "$TOKEN" --chunk 5000

q() { psql -h 127.0.0.1 -U postgres -d "$DB" -At -c "$1"; }
# Idempotency records as a write stores them: the caller's organisation, the RPC, a UUID
# request id, a SHA-256 hex hash and the response (a person's record, ~200 bytes encoded).
q "INSERT INTO eligibility.idempotency_records (caller_party, rpc, request_id, request_hash, response, created_at)
   SELECT '435073', 'UpsertInsuredPerson', gen_random_uuid()::text, encode(sha256(i::text::bytea), 'hex'),
          decode(repeat(md5(i::text), 6) || substr(md5((i + 1)::text), 1, 8), 'hex'), now() - (i % 604800) * interval '1 second'
   FROM generate_series(1, $PERSONS) AS i" >/dev/null
q "VACUUM ANALYZE" >/dev/null
echo "table | rows | bytes with indexes | bytes per row"
for t in $(q "SELECT tablename FROM pg_tables WHERE schemaname = 'eligibility' ORDER BY tablename"); do
  q "SELECT '$t', COUNT(*), pg_total_relation_size('eligibility.$t'),
            round(pg_total_relation_size('eligibility.$t')::numeric / GREATEST(COUNT(*), 1), 1)
     FROM eligibility.$t" | awk -F'|' '{printf "%s | %s | %s | %s\n", $1, $2, $3, $4}'
done
# A person's eligibility rows: every table but the platform's (outbox, processed events,
# idempotency, audit, migrations).
q "SELECT 'eligibility rows per person (persons and their own tables)', round(SUM(pg_total_relation_size(format('eligibility.%I', tablename)))::numeric
     / (SELECT COUNT(*) FROM eligibility.persons), 1)
   FROM pg_tables WHERE schemaname = 'eligibility' AND tablename NOT IN
     ('outbox', 'processed_events', 'idempotency_records', 'audit_trail', 'seaql_migrations')
     AND tablename NOT LIKE 'audit_trail_%'"
