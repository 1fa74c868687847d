#!/bin/sh
# Creates and migrates Temporal's two databases on PostgreSQL; safe to run again. The same steps
# as temporalio/samples-server compose/scripts/setup-postgres.sh. Run by docker-compose.yml (in
# temporalio/admin-tools) and by test/support/temporalServer.ts (with the binaries and schema of
# scripts/install-temporal-server.sh), so the scaled-out test sets up Temporal as compose does.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}"
DB_PORT="${DB_PORT:-5432}"
DBNAME="${DBNAME:-temporal}"
VISIBILITY_DBNAME="${VISIBILITY_DBNAME:-temporal_visibility}"
SCHEMA_DIR="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema}/postgresql/v12"
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -pw "${POSTGRES_PWD:-}" -p "$DB_PORT" "$@"; }
# compose's healthcheck already waits for PostgreSQL; this covers a bare `docker run`.
if command -v nc >/dev/null 2>&1; then
  until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do echo "waiting for PostgreSQL"; sleep 1; done
fi
# The tests create their databases themselves (fresh names, dropped afterwards): SKIP_DB_CREATE,
# as in Temporal's former auto-setup image.
if [ "${SKIP_DB_CREATE:-false}" != true ]; then
  tool --db "$DBNAME" create || true
  tool --db "$VISIBILITY_DBNAME" create || true
fi
tool --db "$DBNAME" setup-schema -v 0.0
tool --db "$DBNAME" update-schema -d "$SCHEMA_DIR/temporal/versioned"
tool --db "$VISIBILITY_DBNAME" setup-schema -v 0.0
tool --db "$VISIBILITY_DBNAME" update-schema -d "$SCHEMA_DIR/visibility/versioned"
echo "Temporal schema ready"
