#!/usr/bin/env bash
# Finds or builds the Temporal CLI (it contains the dev server and its Web UI) and prints its path
# on the last line of stdout. Everything else goes to stderr so callers can use $(...).
#
# Order: $TEMPORAL_CLI_PATH, `temporal` on PATH, the knarr cache, `go install` into the cache.
# v1.5.1 is the newest tag `go install` accepts: later tags carry a replace directive
# (specs/temporal.md §8.2).
set -euo pipefail

VERSION=1.5.1
MODULE=github.com/temporalio/cli/cmd/temporal
CACHE_DIR="${KNARR_CACHE_DIR:-$HOME/.cache/knarr}"
BIN_DIR="$CACHE_DIR/bin/temporal-$VERSION.d"
BIN="$BIN_DIR/temporal"
OPTIONS="set TEMPORAL_CLI_PATH to a temporal binary, install the temporal CLI on PATH, or install Go >= 1.25 so knarr can build it"

say() { printf 'install-temporal-cli: %s\n' "$*" >&2; }

# A file named temporal is not enough: a half-written or foreign binary must not be accepted.
usable() { [ -f "$1" ] && [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q '^temporal version'; }

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  if usable "$TEMPORAL_CLI_PATH"; then
    echo "$TEMPORAL_CLI_PATH"
    exit 0
  fi
  # An explicit choice that is wrong should fail loudly, not silently fall back to another binary.
  say "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable temporal CLI"
  exit 1
fi

if on_path="$(command -v temporal 2>/dev/null)" && usable "$on_path"; then
  echo "$on_path"
  exit 0
fi

if usable "$BIN"; then
  echo "$BIN"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  say "no temporal CLI found and Go is not installed: $OPTIONS"
  exit 1
fi

mkdir -p "$BIN_DIR"

# Two concurrent installs (parallel CI jobs, a test run next to `npm start`) would each spend
# minutes building; the second one waits and then reuses the first one's binary.
exec 9>"$BIN_DIR/.lock"
if command -v flock >/dev/null 2>&1; then
  if ! flock -n 9; then
    say "another build of the Temporal CLI is running; waiting for it"
    flock 9
  fi
  if usable "$BIN"; then
    echo "$BIN"
    exit 0
  fi
fi

# Build into a private directory and rename into place, so an interrupted build never leaves a
# half binary where the next run would find it.
tmp="$(mktemp -d "$BIN_DIR/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

say "building the Temporal CLI v$VERSION with go install ($(go version | cut -d' ' -f3)); the first build takes several minutes"
start=$SECONDS
if ! GOBIN="$tmp" go install "$MODULE@v$VERSION" >&2; then
  say "go install $MODULE@v$VERSION failed (needs Go >= 1.25 and the Go module proxy): $OPTIONS"
  exit 1
fi
mv -f "$tmp/temporal" "$BIN"

if ! usable "$BIN"; then
  say "the built $BIN does not run: $OPTIONS"
  exit 1
fi
say "built $BIN in $((SECONDS - start))s"
echo "$BIN"
