# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this
# Shared settings and helpers for the embedded engine scripts (setup.sh, up.sh,
# down.sh, with-engine.sh). Sourced, never run.
#
# Everything the harness downloads, builds, runs or stores lives under ONE
# git-ignored folder, $CACHE (default: <repo>/.cache/e2e; override with
# AUTOCACHE_E2E_CACHE). Deleting it (after down.sh) removes every trace except
# the apt packages setup.sh installed.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ENGINE_DIR="$REPO/integration/engine"
IMAGES_DIR="$REPO/integration/images"
CACHE="${AUTOCACHE_E2E_CACHE:-$REPO/.cache/e2e}"

# Versions and ports (the ports are part of the test contract: the base images
# have 127.0.0.1:5960 baked into their package-manager configs).
BUILDKIT_VERSION=v0.34.2
REGISTRY_ADDR=127.0.0.1:5959
PKGSERVER_ADDR=127.0.0.1:5960
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=http://deb.debian.org/debian

# Layout of $CACHE (see integration/README.md).
BIN="$CACHE/bin"             # buildkitd buildctl docker-registry pkgserver
GOROOT_CACHE="$CACHE/go"     # GOPATH / GOMODCACHE / GOCACHE for host-side go builds
SRC="$CACHE/src"             # the buildkit wrapper module
DEBS="$CACHE/debs"           # .deb files fetched with apt-get download
ROOTFS="$CACHE/rootfs"       # debootstrap output (tar) for debian:bookworm-slim
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

# Host-side go builds keep their caches under $CACHE too.
go_env() {
	# XDG_CONFIG_HOME: keeps Go's telemetry counters (and go env -w) in $CACHE.
	export GOPATH="$GOROOT_CACHE" GOMODCACHE="$GOROOT_CACHE/pkg/mod" \
		GOCACHE="$GOROOT_CACHE/cache" GOTOOLCHAIN=local XDG_CONFIG_HOME="$GOROOT_CACHE/config" \
		GOFLAGS="-modcacherw -buildvcs=false" TMPDIR="$TMP" CGO_ENABLED=0
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
	mkdir -p "$BIN" "$GOROOT_CACHE" "$SRC" "$DEBS" "$ROOTFS" "$BK_ROOT" "$REG_ROOT" \
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
# wait on it) and record its PID. Runs in $RUN_DIR. The previous run's log is
# kept as LOGFILE.1.
start_daemon() {
	local name="$1" logf="$2"; shift 2
	[ ! -s "$logf" ] || mv -f "$logf" "$logf.1"
	(exec 9>&- && cd "$RUN_DIR" && exec setsid "$@" </dev/null >>"$logf" 2>&1) &
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

# sha256 of files and/or whole directory trees (paths, contents and modes).
hash_inputs() {
	local p
	for p in "$@"; do
		if [ -d "$p" ]; then
			(cd "$p" && find . -type f -print0 | LC_ALL=C sort -z |
				xargs -0 -r sha256sum; find . -printf '%p %m\n' | LC_ALL=C sort)
		elif [ -e "$p" ]; then
			sha256sum "$p"; stat -c '%n %a' "$p"
		else
			printf '%s\n' "$p" # a literal string
		fi
	done | sha256sum | cut -c1-16
}
