#!/usr/bin/env bash
# Installs the real servers and clients the test suite needs, idempotently, and prints where they are.
#
# - Debian's servers for the protocol connectors (shared/specs/providers.md C.1), started by the
#   tests themselves on free loopback ports (test/support/servers/): apache2 + mod_dav_fs (WebDAV),
#   OpenSSH sshd (SFTP), pure-ftpd (FTP); and Chromium for the dashboard's browser tests
#   (test/browser/, driven by playwright-core). apt-get update runs once per machine.
# - versitygw, the S3 gateway (posix backend), built with go install at a pinned tag into
#   ~/.cache/knarr/bin/versitygw-<version>.d and linked as ~/.cache/knarr/bin/versitygw.
# - rclone, the independent client that checks the emulators and the servers
#   (test/integration/*-rclone.test.ts). Order of preference:
#   1. an rclone already on PATH that is new enough (e.g. Debian's, installed by an earlier run);
#   2. Debian's package (apt-get update once, then apt-get install rclone);
#   3. go install github.com/rclone/rclone@v1.76.0 into ~/.cache/knarr/bin/rclone-1.76.0.d (built once).
# The choice is linked as ~/.cache/knarr/bin/rclone, which the tests use. A v1.76.0 build found in
# the cache is also run by the rclone test (two independent client versions); set
# KNARR_BUILD_RCLONE=1 to build it even when Debian's rclone is fine.
# "New enough": the jottacloud backend must speak the current Personal Login Token flow
# (config_type=standard, well_known_link from the token, unpadded base64url), allocate with
# /jfs/<device>/<mountpoint> paths and mode=liststream (shared/specs/jottacloud-api.md §2.1, §3,
# §4.4). That is rclone >= 1.58; Debian bookworm's 1.60.1 qualifies and is checked against the
# emulator end to end by the rclone test.
#
# Output: one line per tool on stdout, `versitygw=<absolute path>`, then `rclone=<absolute path>`
# last (the test setup reads the last line). Progress goes to stderr.
set -euo pipefail

CACHE_BIN="${KNARR_CACHE_DIR:-$HOME/.cache/knarr}/bin"
RCLONE_GO_VERSION=1.76.0
RCLONE_MIN=1.58
VERSITYGW_VERSION=1.8.0
mkdir -p "$CACHE_BIN"

log() { echo "install-test-servers: $*" >&2; }

# apt_install PKG...: installs what is missing, apt-get update once per machine (again only if
# the install fails on stale lists).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    log "missing Debian packages ${missing[*]}: install them as root (apt-get install ${missing[*]})"
    return 1
  fi
  local stamp="$CACHE_BIN/../apt-updated"
  log "installing Debian packages: ${missing[*]}"
  run() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; }
  if [ ! -e "$stamp" ]; then apt-get update -qq >&2 && touch "$stamp"; fi
  run || { apt-get update -qq >&2 && touch "$stamp" && run; }
}

install_servers() {
  # apache2-bin: WebDAV (mod_dav_fs); apache2-utils: htpasswd; openssh-server/-client: sshd and
  # ssh-keygen; pure-ftpd: FTP (conflicts with vsftpd, which is never installed here).
  apt_install apache2-bin apache2-utils openssh-server openssh-client pure-ftpd chromium
  mkdir -p /run/sshd
}

install_versitygw() {
  local dir="$CACHE_BIN/versitygw-$VERSITYGW_VERSION.d"
  if [ ! -x "$dir/versitygw" ]; then
    command -v go >/dev/null 2>&1 || { log "no Go to build versitygw (needs Go >= 1.25)"; return 1; }
    log "building versitygw v$VERSITYGW_VERSION with go install (once, cached in $dir)"
    mkdir -p "$dir"
    GOBIN="$dir" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@v$VERSITYGW_VERSION" >&2
  fi
  ln -sfn "$dir/versitygw" "$CACHE_BIN/versitygw"
  echo "versitygw=$dir/versitygw"
}

# version_ge A B: true when dotted version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

# rclone_ok BIN: BIN runs, is >= RCLONE_MIN and has the jottacloud backend with the login-token flow.
rclone_ok() {
  local bin="$1" out v
  # Read all of it first: `| head` would SIGPIPE rclone and fail the pipeline under pipefail.
  out="$("$bin" version 2>/dev/null)" || return 1
  v="$(sed -nE '1s/^rclone v([0-9]+\.[0-9]+(\.[0-9]+)?).*/\1/p' <<<"$out")"
  [ -n "$v" ] || return 1
  version_ge "$v" "$RCLONE_MIN" || { log "$bin is rclone $v, older than $RCLONE_MIN"; return 1; }
  "$bin" help backend jottacloud >/dev/null 2>&1 || { log "$bin has no jottacloud backend"; return 1; }
  # The standard (login token) flow's config keys are compiled in.
  grep -aq 'config_login_token' "$(readlink -f "$bin")" || { log "$bin lacks the login-token flow"; return 1; }
}

use_rclone() {
  local bin
  bin="$(readlink -f "$1")"
  if [ "$bin" != "$(readlink -f "$CACHE_BIN/rclone" 2>/dev/null || true)" ]; then
    ln -sfn "$bin" "$CACHE_BIN/rclone"
  fi
  log "using $("$bin" version 2>/dev/null | sed -n 1p) at $bin"
  echo "rclone=$bin"
}

install_rclone() {
  if [ "${KNARR_BUILD_RCLONE:-}" = 1 ]; then build_rclone; fi
  if command -v rclone >/dev/null 2>&1 && rclone_ok "$(command -v rclone)"; then use_rclone "$(command -v rclone)"; return; fi

  if apt_install rclone && rclone_ok /usr/bin/rclone; then
    use_rclone /usr/bin/rclone
    return
  fi
  log "Debian's rclone is missing or too old"

  build_rclone
  use_rclone "$CACHE_BIN/rclone-$RCLONE_GO_VERSION.d/rclone"
}

build_rclone() {
  local dir="$CACHE_BIN/rclone-$RCLONE_GO_VERSION.d"
  if [ ! -x "$dir/rclone" ]; then
    command -v go >/dev/null 2>&1 || { log "no usable rclone and no Go to build one"; exit 1; }
    log "building rclone v$RCLONE_GO_VERSION with go install (needs Go >= 1.26; once, cached in $dir)"
    mkdir -p "$dir"
    GOBIN="$dir" GOFLAGS=-buildvcs=false go install "github.com/rclone/rclone@v$RCLONE_GO_VERSION" >&2
  fi
  rclone_ok "$dir/rclone" || { log "built rclone does not work"; exit 1; }
}

install_servers
install_versitygw
install_rclone
