#!/usr/bin/env bash
# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# The machine-level artifact cache: what the engine and conformance harnesses
# build that does not change from one checkout to the next (buildkitd and
# buildctl, Debian binaries, debootstrap root filesystems, base images as OCI
# layouts, the frontend image, the suite's test binary, busybox, ...), kept
# OUTSIDE the checkout so that a second checkout, or CI's fresh clone, starts
# warm. Sourced by integration/engine/lib.sh and integration/conformance/lib.sh;
# run directly for `size` and `clean` (make cache-size, make clean-cache).
#
# Where: $AUTOCACHE_MACHINE_CACHE, else $XDG_CACHE_HOME/autocache, else
# /var/cache/autocache (root) or ~/.cache/autocache.
#
# Layout: $MCACHE/<kind>/<key>/ — one directory per entry, <key> a hash of
# everything that goes into it (versions, the scripts and Dockerfiles that
# make it). An entry is built in $MCACHE/<kind>/.tmp.<key>.<pid> and renamed
# into place (mv -T, atomic), under a per-entry lock, so two checkouts never
# see half an entry and never build the same one twice at once. Using an
# entry touches it; each kind keeps its newest few (mc_make's KEEP).
# $MCACHE/go holds the Go module and build caches of the host-side go builds
# (Go locks those itself). BuildKit's own state (snapshots, cache mounts) and
# the registries' storage stay per checkout: a buildkitd root can serve one
# daemon at a time, and a registry's tags would be shared between checkouts
# whose images differ.
#
# Locks: every user holds $MCACHE/.lock shared while it runs; `clean` takes
# it exclusively and refuses while anyone holds it.

if [ -n "${AUTOCACHE_MACHINE_CACHE:-}" ]; then
	MCACHE="$AUTOCACHE_MACHINE_CACHE"
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
	MCACHE="$XDG_CACHE_HOME/autocache"
elif [ "$(id -u)" = 0 ]; then
	MCACHE=/var/cache/autocache
else
	MCACHE="$HOME/.cache/autocache"
fi
MC_GOMODCACHE="$MCACHE/go/mod"
MC_GOCACHE="$MCACHE/go/build"

# mc_hold: hold $MCACHE/.lock shared until this shell exits (fd 8; the
# harness's daemons close every inherited descriptor, so they never hold it).
mc_hold() {
	mkdir -p "$MCACHE/.locks"
	exec 8>"$MCACHE/.lock"
	flock -s 8
}

# mc_hash INPUT...: a 16-hex key from files (content and mode), whole
# directory trees (relative paths, contents, modes, symlink targets) and
# literal strings (anything that is not a path). Independent of where the
# checkout is, so a fresh clone elsewhere computes the same keys.
mc_hash() {
	local p
	for p in "$@"; do
		if [ -d "$p" ]; then
			(cd "$p" && find . -type f -print0 | LC_ALL=C sort -z |
				xargs -0 -r sha256sum; find . -printf '%p %m %l\n' | LC_ALL=C sort)
		elif [ -e "$p" ]; then
			sha256sum <"$p"; stat -c '%a' "$p"
		else
			printf '%s\n' "$p"
		fi
	done | sha256sum | cut -c1-16
}

# mc_path KIND KEY: the entry's directory (it may not exist).
mc_path() { printf '%s/%s/%s' "$MCACHE" "$1" "$2"; }

# mc_have KIND KEY: true if the entry exists; touches it (newest is kept).
mc_have() {
	local p
	p="$(mc_path "$1" "$2")"
	[ -d "$p" ] || return 1
	touch "$p" 2>/dev/null || true
}

# mc_make KIND KEY KEEP FUNC [ARGS...]: make sure the entry exists. If it does
# not, run `FUNC DIR ARGS...` to fill a new directory DIR and rename it into
# place; a failing FUNC leaves nothing behind. Waits while another process
# builds the same entry, then uses its result. Afterwards keeps only the KEEP
# newest entries of KIND.
mc_make() {
	local kind="$1" key="$2" keep="$3" fn="$4" p tmp fd rc=0
	shift 4
	mc_have "$kind" "$key" && return 0
	p="$(mc_path "$kind" "$key")"
	mkdir -p "$MCACHE/$kind" "$MCACHE/.locks"
	exec {fd}>"$MCACHE/.locks/$kind-$key.lock"
	if ! flock -n "$fd"; then
		mc_log "waiting for another process building $kind/$key"
		flock "$fd"
	fi
	if mc_have "$kind" "$key"; then
		exec {fd}>&-
		return 0
	fi
	tmp="$MCACHE/$kind/.tmp.$key.$$"
	rm -rf "$tmp" && mkdir -p "$tmp"
	"$fn" "$tmp" "$@" || rc=$?
	if [ "$rc" = 0 ] && ! mv -T "$tmp" "$p" 2>/dev/null; then
		[ -d "$p" ] || rc=1 # else another process's entry won: same inputs, same entry
	fi
	rm -rf "$tmp"
	exec {fd}>&- # (the lock file stays: removing it would let two lockers in)
	[ "$rc" = 0 ] || return "$rc"
	mc_prune "$kind" "$keep"
}

# mc_prune KIND KEEP: remove all but the KEEP most recently used entries of
# KIND, and temporary directories a killed run left (older than a day).
mc_prune() {
	local kind="$1" keep="$2" e
	[ -d "$MCACHE/$kind" ] || return 0
	find "$MCACHE/$kind" -mindepth 1 -maxdepth 1 -name '.tmp.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
	# shellcheck disable=SC2012 # names are our hex keys
	ls -1t "$MCACHE/$kind" | tail -n +"$((keep + 1))" | while read -r e; do
		mc_log "machine cache: dropping the old $kind/$e"
		rm -rf "${MCACHE:?}/$kind/$e"
	done
}

# mc_link SRC DEST: DEST becomes a hard link to SRC (a copy across
# filesystems), replaced atomically. A hard link, not a symlink: the harness
# recognizes its daemons by /proc/PID/exe, which is the path they ran from.
mc_link() {
	[ ! "$1" -ef "$2" ] || return 0 # already that file
	mkdir -p "$(dirname "$2")"
	rm -f "$2.tmp"
	ln "$1" "$2.tmp" 2>/dev/null || cp -p "$1" "$2.tmp"
	mv -f "$2.tmp" "$2"
}

# mc_frontend_key REPO VERSION GOVERSION PLATFORMS: the key of the frontend image built
# from REPO's Dockerfile (frontend/KEY, an OCI layout in oci/), shared by the
# engine and conformance harnesses: the build context as BuildKit gets it (the
# repository without .cache, .git and bin, which both harnesses leave out),
# the VERSION build argument, the Go that compiles it and the platforms.
mc_frontend_key() {
	local ctx
	ctx="$(cd "$1" && { find . \( -path ./.cache -o -path ./.git -o -path ./bin \) -prune -o -type f -print0 |
		LC_ALL=C sort -z | xargs -0 -r sha256sum
		find . \( -path ./.cache -o -path ./.git -o -path ./bin \) -prune -o -printf '%p %m %l\n' | LC_ALL=C sort; } |
		sha256sum | cut -c1-16)"
	mc_hash "frontend context $ctx" "version $2" "go $3" "platforms $4"
}

mc_log() { printf '[mcache %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# mc_size: what the cache holds, per kind and entry.
mc_size() {
	local kind e
	[ -d "$MCACHE" ] || { echo "machine cache $MCACHE: empty"; return 0; }
	echo "machine cache $MCACHE (AUTOCACHE_MACHINE_CACHE moves it):"
	for kind in "$MCACHE"/*/; do
		kind="$(basename "$kind")"
		printf '  %-8s %s\n' "$(du -sh "$MCACHE/$kind" 2>/dev/null | cut -f1)" "$kind/"
		[ "$kind" = go ] && continue
		# shellcheck disable=SC2012
		ls -1t "$MCACHE/$kind" | while read -r e; do
			printf '    %-8s %s  (used %s)\n' "$(du -sh "$MCACHE/$kind/$e" 2>/dev/null | cut -f1)" "$e" \
				"$(date -r "$MCACHE/$kind/$e" '+%Y-%m-%d %H:%M')"
		done
	done
	printf '  %-8s total; %s free on its filesystem\n' "$(du -sh "$MCACHE" 2>/dev/null | cut -f1)" \
		"$(df -h --output=avail "$MCACHE" | tail -n1 | tr -d ' ')"
}

# mc_clean: remove the whole cache, unless a harness is using it.
mc_clean() {
	[ -d "$MCACHE" ] || return 0
	exec 8>"$MCACHE/.lock"
	flock -n -x 8 || { mc_log "ERROR: $MCACHE is in use (a make test, demo or conformance run); not cleaning"; return 1; }
	chmod -R u+w "$MCACHE/go" 2>/dev/null || true # Go makes its module cache read-only
	rm -rf "${MCACHE:?}"/* "$MCACHE"/.locks
	mc_log "removed everything in $MCACHE"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	size) mc_size ;;
	clean) mc_clean ;;
	path) echo "$MCACHE" ;;
	*) echo "usage: $0 size|clean|path" >&2; exit 2 ;;
	esac
fi
