#!/usr/bin/env bash
# Builds and caches Temporal's own server (temporal-server) and schema tool (temporal-sql-tool),
# with the PostgreSQL schema and reference config of the same release, and prints the directory
# holding them on the last line of stdout. Everything else goes to stderr so callers can use $(...).
#
# This is the server a cluster runs (docker-compose.yml, deploy/temporal/), not the dev server in
# the Temporal CLI: test/e2e/scaled.test.ts starts it on PostgreSQL through test/support/temporalServer.ts.
# v1.29.1 is the server inside the Temporal CLI v1.5.1 that knarr builds already
# (specs/temporal.md §8.2), so both builds share most of Go's build cache.
#
# Layout of $KNARR_CACHE_DIR/bin/temporal-server-1.29.1.d (default ~/.cache/knarr/...):
#   temporal-server, temporal-sql-tool           the binaries, named as in Temporal's images
#   schema/postgresql/v12/{temporal,visibility}  what temporal-sql-tool setup/update-schema read
#   config/development-postgres12.yaml           upstream's reference for deploy/temporal/config
set -euo pipefail

VERSION=1.29.1
MODULE=go.temporal.io/server
CACHE_DIR="${KNARR_CACHE_DIR:-$HOME/.cache/knarr}"
DIR="$CACHE_DIR/bin/temporal-server-$VERSION.d"

say() { printf 'install-temporal-server: %s\n' "$*" >&2; }

# The directory appears only by rename once everything in it is there, so its existence means
# complete; the version check rejects a directory some other tool put there.
complete() {
  [ -x "$DIR/temporal-server" ] && [ -x "$DIR/temporal-sql-tool" ] &&
    [ -d "$DIR/schema/postgresql/v12/temporal/versioned" ] && [ -d "$DIR/schema/postgresql/v12/visibility/versioned" ] &&
    [ -f "$DIR/config/development-postgres12.yaml" ] &&
    "$DIR/temporal-server" --version 2>/dev/null | grep -q "version $VERSION\$"
}

if complete; then
  echo "$DIR"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  say "the Temporal server is not in $DIR and Go is not installed to build it (needs Go >= 1.25)"
  exit 1
fi

mkdir -p "$CACHE_DIR/bin"

# Parallel test runs and CI jobs would each spend minutes building; the second waits for the first.
# The lock lives beside the directory because the directory itself is renamed into place.
exec 9>"$CACHE_DIR/bin/.temporal-server-$VERSION.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    say "another build of the Temporal server is running; waiting for it"
    flock 9
  fi
  if complete; then
    echo "$DIR"
    exit 0
  fi
fi

tmp="$(mktemp -d "$CACHE_DIR/bin/.temporal-server-$VERSION.build.XXXXXX")"
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

say "building the Temporal server v$VERSION with go install ($(go version | cut -d' ' -f3)); the first build takes several minutes"
start=$SECONDS
if ! GOBIN="$tmp/gobin" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "$MODULE/cmd/server@v$VERSION" "$MODULE/cmd/tools/sql@v$VERSION" >&2; then
  say "go install $MODULE/cmd/server@v$VERSION failed (needs Go >= 1.25 and the Go module proxy)"
  exit 1
fi
mkdir -p "$tmp/out/schema/postgresql/v12" "$tmp/out/config"
mv "$tmp/gobin/server" "$tmp/out/temporal-server"
mv "$tmp/gobin/sql" "$tmp/out/temporal-sql-tool"

# go install just put the module in the module cache; the tests must not depend on that cache
# staying there (go clean -modcache, another GOMODCACHE), so copy what they read.
src="$(go env GOMODCACHE)/$MODULE@v$VERSION"
cp -R "$src/schema/postgresql/v12/temporal" "$src/schema/postgresql/v12/visibility" "$tmp/out/schema/postgresql/v12/"
cp "$src/config/development-postgres12.yaml" "$tmp/out/config/"
# Module cache files are read-only; a later rm -rf of the cache must not need chmod first.
chmod -R u+w "$tmp/out"

if ! "$tmp/out/temporal-server" --version 2>/dev/null | grep -q "version $VERSION\$"; then
  say "the built temporal-server does not run or is not v$VERSION"
  exit 1
fi
rm -rf "$DIR"
mv "$tmp/out" "$DIR"
say "built $DIR in $((SECONDS - start))s"
echo "$DIR"
