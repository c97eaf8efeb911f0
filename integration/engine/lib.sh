# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers for the embedded engine scripts (setup.sh, up.sh,
# down.sh, with-engine.sh). Sourced, never run.
#
# What is this checkout's own (buildkitd's state, the registry's storage,
# sockets, logs, generated contexts) lives under ONE git-ignored folder,
# $CACHE (default: <repo>/.cache/e2e; override with AUTOCACHE_E2E_CACHE).
# What does not change between checkouts (binaries, root filesystems, base
# images, the Go caches) lives in the machine-level cache, $MCACHE
# (mcache.sh; `make cache-size`, `make clean-cache`). Deleting both (after
# down.sh) removes every trace except the apt packages setup.sh installed.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=integration/engine/mcache.sh
. "$REPO/integration/engine/mcache.sh"
# shellcheck source=integration/phases.sh
. "$REPO/integration/phases.sh"
ENGINE_DIR="$REPO/integration/engine"
IMAGES_DIR="$REPO/integration/images"
CACHE="${AUTOCACHE_E2E_CACHE:-$REPO/.cache/e2e}"

# Versions and ports (the ports are part of the test contract: the base images
# have 127.0.0.1:5960 baked into their package-manager configs).
BUILDKIT_VERSION=v0.34.2
BUILDX_VERSION=v0.38.2 # docker buildx, for the tests that build the way users do
REGISTRY_ADDR=127.0.0.1:5959
PKGSERVER_ADDR=127.0.0.1:5960
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian
# The second release (its own image, for the tests of caches across releases)
# and the second platform (debian:bookworm-slim is a two-platform index; the
# other platform's steps run under qemu-user, registered with binfmt_misc).
DEBIAN_SUITE2=trixie
FOREIGN_ARCH=arm64

# Layout of $CACHE (see integration/README.md).
BIN="$CACHE/bin"             # buildkitd buildctl docker-registry (links into $MCACHE), pkgserver, ocipush
GOCONF="$CACHE/go"           # Go's config folder (telemetry counters)
SRC="$CACHE/src"             # the buildkit wrapper module
DEBS="$CACHE/debs"           # .deb files fetched with apt-get download
ROOTFS="$CACHE/rootfs"       # links to the debootstrap tars in $MCACHE (a build context)
BK_ROOT="$CACHE/buildkit"    # buildkitd --root (all of buildkit's state)
REG_ROOT="$CACHE/registry"   # the image registry's storage
RUN_DIR="$CACHE/run"         # sockets and pid files
ETC="$CACHE/etc"             # generated configs
LOG="$CACHE/log"             # every log the harness writes
STAMPS="$CACHE/stamps"       # input hashes of images already pushed
CTX="$CACHE/ctx"             # generated build contexts
TMP="$CACHE/tmp"             # TMPDIR for everything the harness starts

BK_SOCK="$RUN_DIR/buildkitd.sock"
BK_OTEL_SOCK="$RUN_DIR/otel-grpc.sock"
BUILDKIT_HOST="unix://$BK_SOCK"
export BUILDKIT_HOST

# The Go used on the host (to build buildkit and pkgserver) and copied into
# the golang image. GOTOOLCHAIN=local: never download another toolchain.
HOST_GOROOT="${HOST_GOROOT:-/usr/local/go}"
# The Rust toolchain copied into the rust image: rustup's default toolchain.
HOST_RUSTC="${HOST_RUSTC:-$HOME/.cargo/bin/rustc}"
HOST_RUSTUP="${HOST_RUSTUP:-$HOME/.cargo/bin/rustup}"
PATH="$BIN:$HOST_GOROOT/bin:$PATH:/usr/sbin:/sbin"
export PATH

# Host-side go builds share the machine-level module and build caches (Go
# locks them itself; its build cache is keyed by content).
go_env() {
	# XDG_CONFIG_HOME: keeps Go's telemetry counters (and go env -w) in $CACHE.
	export GOPATH="$MCACHE/go/path" GOMODCACHE="$MC_GOMODCACHE" \
		GOCACHE="$MC_GOCACHE" GOTOOLCHAIN=local XDG_CONFIG_HOME="$GOCONF" \
		GOFLAGS="-modcacherw -buildvcs=false" TMPDIR="$TMP" CGO_ENABLED=0
}

# --- qemu-user for the foreign platform ---------------------------------------
# Debian's qemu-aarch64-static (not apt-installed: the package registers
# handlers for every architecture), registered as ONE binfmt_misc handler,
# `autocache-qemu-aarch64`, with the flags of Debian's own registration
# (/usr/lib/binfmt.d/qemu-aarch64.conf): O, P (argv[0] preserved, as the
# `-binfmt-P` name tells qemu) and F (the kernel opens the interpreter now,
# so it works inside build containers, where the path does not exist).
# buildkitd lists linux/arm64 only if the handler is there when it starts.
QEMU="$BIN/qemu-binfmt/aarch64-binfmt-P"
BINFMT=/proc/sys/fs/binfmt_misc
BINFMT_NAME=autocache-qemu-aarch64
AARCH64_MAGIC='\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'
AARCH64_MASK='\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'

# binfmt_up: register the handler unless this machine already runs aarch64
# binaries (a handler of its own, e.g. from qemu-user-static). Notes what it
# did ($RUN_DIR/ours-binfmt*) for binfmt_down.
binfmt_up() {
	if [ ! -e "$BINFMT/register" ]; then
		mount -t binfmt_misc binfmt_misc "$BINFMT" || die "cannot mount binfmt_misc on $BINFMT"
		touch "$RUN_DIR/ours-binfmt-mount"
	fi
	[ ! -e "$BINFMT/$BINFMT_NAME" ] || return 0
	local f
	for f in "$BINFMT"/*; do
		case "$(basename "$f")" in register | status) continue ;; esac
		if grep -qx 'enabled' "$f" 2>/dev/null && grep -qx 'magic 7f454c460201010000000000000000000200b700' "$f"; then
			log "binfmt_misc: $(basename "$f") already runs aarch64 binaries: using it"
			return 0
		fi
	done
	log "binfmt_misc: registering $BINFMT_NAME -> $QEMU"
	echo ":$BINFMT_NAME:M::$AARCH64_MAGIC:$AARCH64_MASK:$QEMU:OPF" >"$BINFMT/register" ||
		die "cannot register $BINFMT_NAME with binfmt_misc"
	touch "$RUN_DIR/ours-binfmt"
}

# binfmt_down: undo what binfmt_up did.
binfmt_down() {
	if [ -e "$RUN_DIR/ours-binfmt" ]; then
		[ ! -e "$BINFMT/$BINFMT_NAME" ] || echo -1 >"$BINFMT/$BINFMT_NAME" || log "WARNING: could not remove $BINFMT_NAME"
		rm -f "$RUN_DIR/ours-binfmt"
	fi
	if [ -e "$RUN_DIR/ours-binfmt-mount" ]; then
		local others
		others="$(find "$BINFMT" -mindepth 1 -maxdepth 1 ! -name register ! -name status | wc -l)"
		[ "$others" != 0 ] || umount "$BINFMT" || log "WARNING: could not unmount $BINFMT"
		rm -f "$RUN_DIR/ours-binfmt-mount"
	fi
}

# Logging: stdout is reserved for up.sh's export lines.
log() { printf '[engine %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# run_logged NAME CMD...: run CMD with its output in $LOG/NAME.log; on failure
# show the log's tail on stderr and fail.
run_logged() {
	local name="$1"; shift
	local f="$LOG/$name.log"
	if ! "$@" >"$f" 2>&1; then
		log "FAILED: $* (log: $f); last lines:"
		tail -n 40 "$f" >&2
		return 1
	fi
}

mkdirs() {
	mkdir -p "$BIN" "$GOCONF" "$SRC" "$DEBS" "$ROOTFS" "$BK_ROOT" "$REG_ROOT" \
		"$RUN_DIR" "$ETC" "$LOG" "$STAMPS" "$CTX" "$TMP"
}

# pid_alive NAME: true if $RUN_DIR/NAME.pid names a live process running the
# binary we started (checked through /proc/PID/exe, so a recycled PID is never
# mistaken for ours). Prints the PID.
pid_alive() {
	local name="$1" pidf="$RUN_DIR/$1.pid" pid exe want
	[ -s "$pidf" ] || return 1
	pid="$(cat "$pidf")"
	[ -d "/proc/$pid" ] || return 1
	exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
	want="$(readlink -f "$BIN/$name")"
	[ "${exe% (deleted)}" = "$want" ] || return 1
	echo "$pid"
}

# stop_pid NAME [GRACE_SECONDS]: SIGTERM the process in NAME.pid, wait, then
# SIGKILL. Removes the pid file. Only ever signals the PID we recorded.
stop_pid() {
	local name="$1" grace="${2:-10}" pid i
	if pid="$(pid_alive "$name")"; then
		log "stopping $name (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < grace * 10; i++)); do
			[ -d "/proc/$pid" ] || break
			sleep 0.1
		done
		if [ -d "/proc/$pid" ]; then
			log "$name (pid $pid) still alive after ${grace}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			for ((i = 0; i < 50; i++)); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
		fi
	fi
	rm -f "$RUN_DIR/$name.pid"
}

# start_daemon NAME LOGFILE CMD...: start CMD detached from this shell (own
# session, stdin/stdout/stderr not inherited, so `eval "$(up.sh)"` does not
# wait on it; nor is up.sh's lock, fd 9) and record its PID. Runs in $RUN_DIR. The previous run's log is
# kept as LOGFILE.1.
#
# Every other inherited descriptor is closed too: a daemon started under a
# caller's `flock FILE cmd` would otherwise hold that lock for its lifetime.
start_daemon() {
	local name="$1" logf="$2"; shift 2
	[ ! -s "$logf" ] || mv -f "$logf" "$logf.1"
	(
		for fd in /proc/self/fd/*; do
			fd="${fd##*/}"
			[ "$fd" -le 2 ] || eval "exec $fd>&-" 2>/dev/null || true
		done
		cd "$RUN_DIR" && exec setsid "$@" </dev/null >>"$logf" 2>&1
	) &
	echo "$!" >"$RUN_DIR/$name.pid"
}

# check_started NAME: after the readiness probe passed, make sure it is our
# process that answers (not one left over from elsewhere on the same port).
check_started() {
	pid_alive "$1" >/dev/null ||
		die "$1 is not running from $BIN (see $LOG/); is another instance using its port or socket?"
}

# Folders outside $CACHE that runc (/run/runc: container state) and util-linux's
# mount (/run/mount: libmount's utab, when debootstrap or down.sh mount or
# unmount) create on first use. note_absent records the ones that do not exist
# yet, so down.sh removes exactly those (and only while empty).
OUTSIDE_DIRS=(/run/runc /run/mount)
note_absent() {
	local d n
	for d in "${OUTSIDE_DIRS[@]}"; do
		n="$(basename "$d")"
		[ -e "$d" ] || touch "$RUN_DIR/ours-$n"
	done
}

# wait_until SECONDS DESC CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
	local secs="$1" desc="$2" i; shift 2
	for ((i = 0; i < secs * 5; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	die "timed out after ${secs}s waiting for $desc"
}
