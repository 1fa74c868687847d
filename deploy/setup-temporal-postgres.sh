#!/bin/sh
# Creates and migrates Temporal's databases on PostgreSQL; safe to run again (the same steps as
# temporalio/samples-server compose/scripts/setup-postgres.sh).
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -u "$POSTGRES_USER" -pw "$POSTGRES_PWD" -p "${DB_PORT:-5432}" "$@"; }
until nc -z "$POSTGRES_SEEDS" "${DB_PORT:-5432}"; do echo "waiting for PostgreSQL"; sleep 1; done
tool --db temporal create || true
tool --db temporal setup-schema -v 0.0
tool --db temporal update-schema -d "$SCHEMA_DIR/temporal/versioned"
tool --db temporal_visibility create || true
tool --db temporal_visibility setup-schema -v 0.0
tool --db temporal_visibility update-schema -d "$SCHEMA_DIR/visibility/versioned"
echo "Temporal schema ready"
