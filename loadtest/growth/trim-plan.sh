#!/usr/bin/env bash
# The query plans of the event tables' retention deletes (services/platform/src/events/trim.rs),
# for loadtest/README.md#growth-and-retention. Reproduce with
#   bash loadtest/growth/trim-plan.sh
# Needs PostgreSQL on 127.0.0.1:5432 (trust). It creates its own database and drops it at exit.
#
# The tables as EventTablesMigration makes them, filled in SQL with EVENTS events spread evenly
# over the last six days (UUIDv7-shaped ids: the first twelve hex digits are the millisecond),
# each published 50 ms after it was written and handled 10 ms after that by one
# consumer group. A first pass of the 72-hour trim is shown on the untrimmed tables, then the
# rows older than 73 hours are deleted, as the hourly passes would have, and a steady-state
# pass (the last hour's expired rows) is shown: each plan under EXPLAIN ANALYZE in a
# transaction rolled back.
set -euo pipefail
EVENTS=${EVENTS:-100000}
DB="kaigo_trim_plan_$$"
psql() { command psql -X -q -h 127.0.0.1 -U postgres "$@"; }
cleanup() { psql -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
psql -d postgres -c "CREATE DATABASE $DB" >/dev/null
psql -d "$DB" -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE TABLE outbox (seq bigserial PRIMARY KEY, event_id varchar(36) NOT NULL UNIQUE, topic varchar NOT NULL,
  key varchar NOT NULL, payload bytea NOT NULL, trace text NOT NULL, created_at timestamptz NOT NULL,
  published_at timestamptz NULL);
CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
CREATE TABLE processed_events (consumer_group varchar NOT NULL, event_id varchar(36) NOT NULL,
  processed_at timestamptz NOT NULL, PRIMARY KEY (consumer_group, event_id));
INSERT INTO outbox (event_id, topic, key, payload, trace, created_at, published_at)
SELECT lpad(to_hex(ms >> 16), 8, '0') || '-' || lpad(to_hex(ms & 65535), 4, '0') || '-7' || substr(md5(i::text), 1, 3)
       || '-8' || substr(md5(i::text), 4, 3) || '-' || substr(md5(i::text), 7, 12),
       'eligibility.changed', 'k', '\x01', '[]', t, t + interval '50 ms'
FROM (SELECT i, now() - ($EVENTS - i) * (interval '6 days' / $EVENTS) AS t FROM generate_series(1, $EVENTS) i) s,
     LATERAL (SELECT (extract(epoch FROM t) * 1000)::bigint AS ms) m;
INSERT INTO processed_events SELECT 'eligibility-cache', event_id, published_at + interval '10 ms' FROM outbox;
VACUUM ANALYZE;
SQL
# The id bound of the boundary instant, as events::trim::id_bound makes it.
BOUND=$(psql -d "$DB" -At -c "SELECT lpad(to_hex(ms >> 16), 8, '0') || '-' || lpad(to_hex(ms & 65535), 4, '0')
  || '-0000-0000-000000000000' FROM (SELECT (extract(epoch FROM now() - interval '72 hours') * 1000)::bigint AS ms) m")
plans() {
  psql -d "$DB" <<SQL
PREPARE o(text, timestamptz, bigint) AS DELETE FROM outbox WHERE seq = ANY (ARRAY(SELECT seq FROM outbox
  WHERE event_id < \$1 AND published_at < \$2 LIMIT \$3));
PREPARE p(text, text, timestamptz, bigint) AS DELETE FROM processed_events WHERE consumer_group = \$1
  AND event_id = ANY (ARRAY(SELECT event_id FROM processed_events WHERE consumer_group = \$1 AND event_id < \$2
  AND processed_at < \$3 LIMIT \$4));
SELECT count(*) FILTER (WHERE published_at < now() - interval '72 hours') AS expired, count(*) AS rows FROM outbox;
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE o('$BOUND', now() - interval '72 hours', 10000);
EXPLAIN (ANALYZE, COSTS OFF) EXECUTE p('eligibility-cache', '$BOUND', now() - interval '72 hours', 10000);
ROLLBACK;
SQL
}
echo "== first pass over $EVENTS untrimmed events"
plans
psql -d "$DB" >/dev/null <<SQL
DELETE FROM outbox WHERE published_at < now() - interval '73 hours';
DELETE FROM processed_events WHERE processed_at < now() - interval '73 hours';
VACUUM ANALYZE;
SQL
echo "== steady state: the hourly passes before removed everything older than 73 hours"
plans
