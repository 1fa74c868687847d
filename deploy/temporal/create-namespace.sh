#!/bin/sh
# Registers knarr's namespace on a fresh Temporal server (temporal-server does not create
# `default` by itself, unlike the dev server), retrying while the server is still starting; safe to
# run again. Run by docker-compose.yml (in temporalio/admin-tools) and by
# test/support/temporalServer.ts with the Temporal CLI, so the test registers it as compose does.
set -eu
: "${TEMPORAL_ADDRESS:?}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${NAMESPACE_RETENTION:-30d}"
attempts="${NAMESPACE_ATTEMPTS:-60}"
i=0
until temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -gt "$attempts" ]; then
    echo "namespace $namespace could not be created at $TEMPORAL_ADDRESS" >&2
    exit 1
  fi
  temporal operator namespace create --namespace "$namespace" --retention "$retention" || sleep 1
done
echo "namespace $namespace ready"

# knarr's search attributes (core/searchAttributes.ts), so an operator finds a user's runs in
# Temporal Web (KnarrOwner = "alice"). knarr registers missing ones itself at start too, but a
# cluster's attribute cache may take a minute to see new ones; registered here, they are there
# before the first run.
for attr in KnarrOwner KnarrJobId KnarrSourceType KnarrDestinationType KnarrState; do
  temporal operator search-attribute create --namespace "$namespace" --name "$attr" --type Keyword >/dev/null 2>&1 || true
done
echo "search attributes ready"
