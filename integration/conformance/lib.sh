# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file
# Shared settings and helpers for the conformance scripts (setup.sh,
# images.sh, suite.sh, compare.sh, run.sh). Sourced, never run.
#
# What this harness does (docs/conformance.md has the details): it runs
# BuildKit's own Dockerfile integration suite (TestIntegration in
# github.com/moby/buildkit/frontend/dockerfile, at the version autocache pins)
# twice in gateway mode, once against the stock upstream frontend and once
# against the autocache image, and compares the results test by test.
#
# What is this checkout's own (logs, the suite's registry mirror, the helper
# daemon's root, the runs) lives under ONE git-ignored folder, $C (default
# <repo>/.cache/conformance; override with AUTOCACHE_CONFORMANCE_CACHE).
# What does not change between checkouts lives in the machine-level cache
# (integration/engine/mcache.sh): the engine binaries it borrows from
# integration/engine, the suite's test binary and the stock frontend, busybox,
# the stand-in images, the frontend images (the autocache one shared with the
# engine harness) and the stock column's results. Outside both: the apt
# packages it installs.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CONF_DIR="$REPO/integration/conformance"
# shellcheck source=integration/engine/mcache.sh
. "$REPO/integration/engine/mcache.sh"
# shellcheck source=integration/phases.sh
. "$REPO/integration/phases.sh"
C="${AUTOCACHE_CONFORMANCE_CACHE:-$REPO/.cache/conformance}"

# The buildkit version is the one autocache's go.mod pins: the suite, the
# stock frontend and the engine must all be that version.
BUILDKIT_VERSION="$(awk '$1 == "github.com/moby/buildkit" { print $2; exit }' "$REPO/go.mod")"
# Go version of the golang image the autocache Dockerfile builds with (its
# `ARG GO_VERSION=` default); the stand-in is the host's Go, which must match.
GO_VERSION="$(sed -n 's/^ARG GO_VERSION=//p' "$REPO/Dockerfile" | head -n1)"

# Layout of $C.
BIN="$C/bin"            # links to dockerfile.test, buildkitd, buildctl, registry
MOD="$C/mod"            # wrapper module: the suite's test binary and the stock frontend
SRC="$C/src"            # busybox build; links to busybox
CTX="$C/ctx"            # generated build contexts (stand-in images, frontend images)
OCI="$C/oci"            # OCI layouts / tars: the two frontend images, the golang stand-in
MIRROR="$C/mirror"      # BUILDKIT_REGISTRY_MIRROR_DIR of the suite (seeded here)
HELPER="$C/helper"      # helper buildkitd (root, socket, config) + seeding registry config
RUNS="$C/runs"          # cwd of the suite runs
LOGS="$C/logs"          # every log; stock.log / autocache.log are the suite's -v output
STAMPS="$C/stamps"      # input hashes of things already built
# TMPDIR for everything (the suite puts its buildkitd roots and sockets
# here). Not under $C: a Unix socket path has at most 107 bytes and the
# suite nests its SSH agent socket ~75 bytes below TMPDIR, so a long checkout
# path made TestSSHSocketParams fail with both frontends (and a longer one
# would stop every buildkitd from listening). One short folder per $C.
TMP="/tmp/acc-$(printf %s "$C" | sha256sum | cut -c1-8)" # 17 bytes

HELPER_SOCK="$HELPER/buildkitd.sock"

# The autocache columns compared with stock (run.sh; images.sh makes their
# images): probe, autocache.
CONFORMANCE_COLUMNS="${CONFORMANCE_COLUMNS:-probe autocache}"

# Temporary files of everything we start (buildkitd, go, the suite) stay under
# $C too. (apt-get is run without it: its _apt sandbox user cannot write here.)
export TMPDIR="$TMP"

# Our binaries come first on PATH: buildkitd/buildctl $BUILDKIT_VERSION and
# `registry` must win over any system copy. Go is the host's /usr/local/go.
HOST_GOROOT="${HOST_GOROOT:-/usr/local/go}"
PATH="$BIN:$HOST_GOROOT/bin:$PATH:/usr/sbin:/sbin"
export PATH

log() { printf '[conformance %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# run_logged NAME CMD...: run CMD with its output in $LOGS/NAME.log; on
# failure show the log's tail and fail.
run_logged() {
	local name="$1"; shift
	local f="$LOGS/$name.log"
	if ! "$@" >"$f" 2>&1; then
		log "FAILED: $* (log: $f); last lines:"
		tail -n 40 "$f" >&2
		return 1
	fi
}

mkdirs() {
	mkdir -p "$BIN" "$MOD" "$SRC" "$CTX" "$OCI" "$MIRROR" "$HELPER" \
		"$RUNS" "$LOGS" "$STAMPS" "$TMP"
}

# go_env: host-side go builds share the machine-level Go caches with the
# engine harness: buildkit's packages are compiled once, not twice (Go's
# build cache is keyed by content and locked by Go).
go_env() {
	local host_proxy
	host_proxy="$(env -u GOPROXY go env GOPROXY 2>/dev/null || echo https://proxy.golang.org,direct)"
	export GOPATH="$MCACHE/go/path" GOMODCACHE="$MC_GOMODCACHE" GOCACHE="$MC_GOCACHE" \
		GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" CGO_ENABLED=0 \
		GOPROXY="$host_proxy"
}

# Engine pieces (buildkitd, buildctl, registry) come from integration/engine:
# its lib.sh knows where its setup.sh puts them.
engine_bin() {
	# shellcheck disable=SC1091
	(. "$REPO/integration/engine/lib.sh" >/dev/null 2>&1 && echo "$BIN")
}

# all_pass LOG TEST...: in the suite log LOG, each TEST's entry
# (TestIntegration/TEST/worker=…) passed and none of its results failed.
all_pass() {
	local log="$1" t; shift
	for t in "$@"; do
		grep -qE -e "--- PASS: TestIntegration/$t/worker=" "$log" || return 1
		! grep -qE -e "--- FAIL: TestIntegration/$t/" "$log" || return 1
	done
}

# stamp_ok NAME HASH: true if NAME was last built from inputs hashing to HASH.
stamp_ok() { [ "$(cat "$STAMPS/$1" 2>/dev/null)" = "$2" ]; }
stamp_set() { echo "$2" >"$STAMPS/$1"; }

# our_pids: PIDs of the processes this harness started that may outlive a
# script: buildkitd, registry and the test binary, all executed from $BIN
# (the suite finds buildkitd and registry on PATH, which starts with $BIN).
# Matching on the executable, not on command lines, leaves alone anything
# else that happens to mention $C (someone's `tail -f` of a log, say).
our_pids() {
	local p exe
	for p in /proc/[0-9]*; do
		exe="$(readlink "$p/exe" 2>/dev/null)" || continue # gone, or not ours to read
		exe="${exe% (deleted)}"
		case "$exe" in "$BIN"/*) echo "${p#/proc/}" ;; esac
	done
}

# stop_pids GRACE PID...: SIGTERM, wait up to GRACE seconds, then SIGKILL.
stop_pids() {
	local grace="$1" p i alive; shift
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null || true
	for ((i = 0; i < grace * 10; i++)); do
		alive=0
		for p in "$@"; do [ -d "/proc/$p" ] && alive=1; done
		[ $alive = 0 ] && return 0
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null || true
	sleep 0.5
}

# unmount_under DIR: unmount anything still mounted below DIR (deepest
# first): a buildkitd killed mid-build can leave overlay mounts behind.
unmount_under() {
	local m
	awk -v d="$1/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# cleanup_leftovers: stop every process we started that is still alive,
# unmount what they left, and remove the empty /run/runc that runc creates
# if it did not exist before (RUNC_DIR_EXISTED is set by run.sh).
cleanup_leftovers() {
	local pids
	mapfile -t pids < <(our_pids)
	if [ ${#pids[@]} -gt 0 ]; then
		log "stopping leftover processes: ${pids[*]}"
		stop_pids 10 "${pids[@]}"
	fi
	unmount_under "$C"
	unmount_under "$TMP"
	rm -rf "$TMP" && mkdir -p "$TMP" # empties what a killed suite left
	if [ "${RUNC_DIR_EXISTED:-1}" = 0 ] && [ -d /run/runc ]; then
		rmdir /run/runc 2>/dev/null || true # only if empty: someone else may be using runc now
	fi
	if [ "${BK_RUN_DIR_EXISTED:-1}" = 0 ] && [ -d /run/buildkit ]; then
		# Our daemons all have [otel] socketPath under $C, so this is only a
		# safety net: remove a stale otel socket nobody listens on.
		if ! grep -qF /run/buildkit/otel-grpc.sock <<<"$(ss -xl 2>/dev/null)"; then
			rm -f /run/buildkit/otel-grpc.sock
			rmdir /run/buildkit 2>/dev/null || true
		fi
	fi
}
