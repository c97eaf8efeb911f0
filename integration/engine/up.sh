#!/usr/bin/env bash
# Start the embedded engine (idempotent) and print `export` lines for it:
#
#   eval "$(integration/engine/up.sh)"     # or: eval "$(make -s e2e-up)"
#   buildctl build --frontend dockerfile.v0 --local context=. --local dockerfile=. ...
#
# What runs (all on loopback, all state under $CACHE, see lib.sh):
#   127.0.0.1:5959  image registry (Debian's docker-registry), also buildkitd's
#                   mirror for docker.io: FROM debian:bookworm-slim etc. resolve here
#   127.0.0.1:5960  hermetic package server (integration/cmd/pkgserver): apt,
#                   PyPI simple index, npm registry, GOPROXY, cargo sparse
#                   registry, Maven repository, GET /stats
#   buildkitd       OCI worker (runc, overlayfs, host network), socket
#                   $CACHE/run/buildkitd.sock
# Then it pushes the offline base images from integration/images/ (built
# only when the machine-level cache has no image for their inputs) and the
# frontend image from the top-level Dockerfile (likewise, keyed by the tree),
# as 127.0.0.1:5959/autocache:1 and :dev.
#
# stdout carries only the export lines; progress goes to stderr, build output
# to $CACHE/log/*.log.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs
t0=$SECONDS

# One up/down at a time. fd 9 is closed for the daemons (start_daemon), so
# they never hold the lock. fd 8: the machine-level cache is in use.
exec 9>"$RUN_DIR/lock"
flock 9
mc_hold

note_absent # /run/runc, /run/mount: see lib.sh
"$ENGINE_DIR/setup.sh" apt >&2

# qemu-user for arm64 steps: before debootstrap (its arm64 second stage runs
# under it) and before buildkitd starts (it lists the platforms it finds).
binfmt_up

# The host's extra CA certificates, as a build context for the debian image.
rm -rf "$CTX/hostca" && mkdir -p "$CTX/hostca"
if [ -d /usr/local/share/ca-certificates ]; then cp -R /usr/local/share/ca-certificates/. "$CTX/hostca/"; fi

# The Debian root filesystems (debootstrap tars, in the machine-level cache:
# bookworm for amd64 and arm64, trixie for amd64) are needed only to build
# the debian images, and only when the machine-level cache lacks those. They
# are made in the background while setup.sh compiles buildkit: one is
# network-bound, the other CPU-bound.
rootfs_key() { mc_hash "$IMAGES_DIR/debian/mkrootfs.sh" "$IMAGES_DIR/debian/rootfs" "$1" "$2" "$DEBIAN_MIRROR"; }
make_rootfs() { # DIR SUITE ARCH
	log "debootstrap $2 $3 (minbase), in the background"
	TMPDIR="$TMP" DEBIAN_SUITE="$2" DEBIAN_ARCH="$3" DEBIAN_MIRROR="$DEBIAN_MIRROR" \
		run_logged "mkrootfs-$2-$3" "$IMAGES_DIR/debian/mkrootfs.sh" "$1/rootfs.tar"
}
# debian_key SUITE PLATFORMS ARCH...: the image's inputs (its root
# filesystems' keys, not their bytes: debootstrap is not reproducible).
debian_key() {
	local suite="$1" platforms="$2" a keys=(); shift 2
	for a in "$@"; do keys+=("$(rootfs_key "$suite" "$a")"); done
	mc_hash "${keys[@]}" "$IMAGES_DIR/debian/Dockerfile" "$CTX/hostca" "$platforms" ${layer_compression:+"layers $layer_compression"}
}
declare -A debian_platforms=([$DEBIAN_SUITE]="linux/amd64,linux/$FOREIGN_ARCH" [$DEBIAN_SUITE2]=linux/amd64)
declare -A debian_arches=([$DEBIAN_SUITE]="amd64 $FOREIGN_ARCH" [$DEBIAN_SUITE2]=amd64)
# AUTOCACHE_E2E_IMAGES=demo (make demo): only the images the demo uses
# (debian:bookworm-slim, python, node, golang), and where they must be built,
# for linux/amd64 only (no arm64 debootstrap under qemu) and with
# uncompressed layers (layer_compression; in their keys, through debian's:
# gzip is about a minute of CPU for the golang and node images here, and the
# demo pulls each base image twice more from the loopback registry); images
# the machine already has for every platform are used as they are.
layer_compression=
suites=("$DEBIAN_SUITE" "$DEBIAN_SUITE2") wave1=(python node golang rust maven) wave2=(poetry)
fe_platforms="linux/amd64,linux/$FOREIGN_ARCH"
case "${AUTOCACHE_E2E_IMAGES:-all}" in
all) ;;
demo)
	suites=("$DEBIAN_SUITE") wave1=(python node golang) wave2=()
	# shellcheck disable=SC2086 # arch list
	if ! mc_have image-debian-"$DEBIAN_SUITE" "$(debian_key "$DEBIAN_SUITE" "${debian_platforms[$DEBIAN_SUITE]}" ${debian_arches[$DEBIAN_SUITE]})"; then
		debian_platforms[$DEBIAN_SUITE]=linux/amd64 debian_arches[$DEBIAN_SUITE]=amd64
		layer_compression=uncompressed
	fi
	;;
*) die "AUTOCACHE_E2E_IMAGES=$AUTOCACHE_E2E_IMAGES: want all or demo" ;;
esac
mkrootfs_pids=()
for suite in "${suites[@]}"; do
	# shellcheck disable=SC2086 # arch list
	mc_have image-debian-"$suite" "$(debian_key "$suite" "${debian_platforms[$suite]}" ${debian_arches[$suite]})" && continue
	for arch in ${debian_arches[$suite]}; do
		mc_have rootfs "$(rootfs_key "$suite" "$arch")" && continue
		mc_make rootfs "$(rootfs_key "$suite" "$arch")" 6 make_rootfs "$suite" "$arch" &
		mkrootfs_pids+=($!)
	done
done
# If up.sh fails meanwhile, let debootstrap finish and clean up its mounts.
trap 'for p in "${mkrootfs_pids[@]}"; do wait "$p" 2>/dev/null || true; done' EXIT

# --- the frontend image ------------------------------------------------------------
# Built as `make image` builds it (hack/image.sh: the top-level Dockerfile, a
# two-platform index) with its Go base image (FROM golang:${GO_VERSION})
# swapped, through a named context, for our golang image with real-proxy
# defaults: its go build downloads modules from proxy.golang.org over HTTPS
# (trusting the baked-in CA). A machine-level cache entry too
# (frontend/KEY, KEY a hash of the context, the version and Go's version):
# a checkout whose tree was built before, anywhere on the machine, reuses it.
#
# The demo (AUTOCACHE_E2E_IMAGES=demo), when the machine has no two-platform
# image of this tree, builds a linux/amd64 one from the same Dockerfile with
# its `build` stage replaced (a named context) by the same go build run on
# the host: the same Go, flags and tags, with the machine-level module and
# build caches (shared with setup.sh's buildkit compile), instead of a cold
# module download and compile inside buildkitd (about two minutes on 2
# cores). The go build starts now, during setup (it uses the CPU that
# buildkit's module download leaves idle), and the image, which needs no
# golang image, is built alongside the base images.
# The host's Go: the frontend's build and the golang image's toolchain.
go_version="$("$HOST_GOROOT/bin/go" env GOVERSION)" # go1.26.8
go_version="${go_version#go}"
go_minor="${go_version%.*}"
df_go="$(sed -n 's/^ARG GO_VERSION=//p' "$REPO/Dockerfile" | head -n1)"
df_go="${df_go:-$go_version}"
[ "$df_go" = "$go_version" ] ||
	log "WARNING: Dockerfile wants Go $df_go, building it with the host's Go $go_version"
fe_version="$(cat "$REPO/VERSION")+$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo dev)"
build_frontend() { # DIR: what `make image` builds (hack/image.sh), as an OCI layout
	log "building the frontend image for linux/amd64 and linux/arm64 (go build in buildkitd; a few minutes cold, seconds warm)"
	OCI="$1/oci" VERSION="$fe_version" PLATFORMS="$fe_platforms" \
		GOLANG_CONTEXT="docker-image://$REGISTRY_ADDR/online/golang:$go_version" \
		run_logged build-frontend "$REPO/hack/image.sh"
}
# build_frontend_hostgo DIR: the demo's (above): the Dockerfile's go build
# (its RUN line, for linux/amd64) on the host, then hack/image.sh with the
# binary as the `build` stage.
fe_bin="$CTX/frontend-build" # out/autocache-frontend: the `build` stage's
build_frontend_go() {
	rm -rf "$fe_bin" && mkdir -p "$fe_bin/out"
	cd "$REPO" && go_env && GOOS=linux GOARCH=amd64 run_logged build-frontend-go go build \
		-tags "netgo static_build osusergo" -ldflags "-s -w -X main.version=$fe_version" \
		-o "$fe_bin/out/autocache-frontend" ./cmd/autocache-frontend
}
build_frontend_hostgo() {
	log "building the frontend image for linux/amd64 (its go build ran on the host)"
	OCI="$1/oci" VERSION="$fe_version" PLATFORMS=linux/amd64 \
		run_logged build-frontend "$REPO/hack/image.sh" -- \
		--local frontendbuild="$fe_bin" --opt context:build=local:frontendbuild
}
fe_builder=build_frontend
fe_key="$(mc_frontend_key "$REPO" "$fe_version" "$go_version" "$fe_platforms")"
if [ "${AUTOCACHE_E2E_IMAGES:-all}" = demo ] && ! mc_have frontend "$fe_key"; then
	fe_platforms=linux/amd64 fe_builder=build_frontend_hostgo
	fe_key="$(mc_frontend_key "$REPO" "$fe_version" "$go_version" "$fe_platforms (go build on the host)")"
fi
fe_go_pid=
if [ "$fe_builder" = build_frontend_hostgo ] && ! mc_have frontend "$fe_key"; then
	log "go build of the frontend for linux/amd64 on the host, in the background"
	(build_frontend_go) &
	fe_go_pid=$!
fi

"$ENGINE_DIR/setup.sh" tools >&2

# --- the image registry ----------------------------------------------------
cat >"$ETC/registry.yml.new" <<EOF
# written by integration/engine/up.sh
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REG_ROOT
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
mv "$ETC/registry.yml.new" "$ETC/registry.yml"
registry_up() { curl -fsS -o /dev/null "http://$REGISTRY_ADDR/v2/" 2>/dev/null; }
if ! pid_alive docker-registry >/dev/null; then
	registry_up && die "something else already serves http://$REGISTRY_ADDR (not our registry: no live pid in $RUN_DIR/docker-registry.pid)"
	log "starting registry on $REGISTRY_ADDR"
	start_daemon docker-registry "$LOG/registry.log" "$BIN/docker-registry" serve "$ETC/registry.yml"
fi
wait_until 30 "the registry (log: $LOG/registry.log)" registry_up
check_started docker-registry

# --- the hermetic package server ---------------------------------------------
stats_up() { curl -fsS -o /dev/null "http://$PKGSERVER_ADDR/stats" 2>/dev/null; }
have_pkgserver=
if [ -d "$REPO/integration/cmd/pkgserver" ]; then
	have_pkgserver=1
	go_env
	# Rebuilt every time (incremental: about a second), so it reflects the tree.
	(cd "$REPO" && run_logged build-pkgserver go build -o "$BIN/pkgserver.new" ./integration/cmd/pkgserver)
	# AUTOCACHE_NETWORK: a network profile (RATE,LATENCY, e.g. 50Mbit,30ms)
	# the package server pretends to be behind (make demo); none for tests.
	network="${AUTOCACHE_NETWORK:-}"
	if pid_alive pkgserver >/dev/null; then
		if ! cmp -s "$BIN/pkgserver.new" "$BIN/pkgserver"; then
			log "pkgserver changed: restarting it (its counters restart at 0)"
			stop_pid pkgserver 5
		elif [ "$(cat "$RUN_DIR/pkgserver.network" 2>/dev/null)" != "$network" ]; then
			log "network profile now '${network:-none}': restarting the pkgserver (its counters restart at 0)"
			stop_pid pkgserver 5
		fi
	fi
	if ! pid_alive pkgserver >/dev/null; then
		stats_up && die "something else already serves http://$PKGSERVER_ADDR (not our pkgserver)"
		mv -f "$BIN/pkgserver.new" "$BIN/pkgserver"
		log "starting pkgserver on $PKGSERVER_ADDR"
		start_daemon pkgserver "$LOG/pkgserver.log" "$BIN/pkgserver" -addr "$PKGSERVER_ADDR" -q -network "$network"
		echo "$network" >"$RUN_DIR/pkgserver.network"
	else
		rm -f "$BIN/pkgserver.new"
	fi
	wait_until 30 "the pkgserver (log: $LOG/pkgserver.log)" stats_up
	check_started pkgserver
else
	log "WARNING: integration/cmd/pkgserver does not exist yet: no hermetic package server"
fi

# --- buildkitd -----------------------------------------------------------------
# The tests grow buildkitd's state by about 9 GB, and once the disk has less
# than minFreeSpace (below) left, buildkitd's GC empties cache mounts between
# two builds of one test: a rebuild then downloads everything again, and a
# download-count test fails for no fault of the code. Say so up front.
free_gb=$(($(df -Pk "$(dirname "$BK_ROOT")" | awk 'NR == 2 { print $4 }') / 1024 / 1024))
if [ "$free_gb" -lt 15 ]; then
	log "WARNING: only ${free_gb} GB free on the disk of $BK_ROOT; the tests need about 15 GB (below 5 GB buildkitd's GC empties cache mounts mid-test, and download counts fail)"
fi

# GC: explicit limits instead of the defaults (which scale with the disk size):
# keep at least 4 GB of cache, use at most 20 GB, and free space when the disk
# has less than 5 GB left.
cat >"$ETC/buildkitd.toml.new" <<EOF
# written by integration/engine/up.sh
root = "$BK_ROOT"

[grpc]
  address = ["$BUILDKIT_HOST"]

[otel]
  socketPath = "$BK_OTEL_SOCK"

[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  networkMode = "host"
  gc = true
  reservedSpace = "4GB"
  maxUsedSpace = "20GB"
  minFreeSpace = "5GB"

[worker.containerd]
  enabled = false

# No Docker Hub here: docker.io images come from the local registry.
[registry."docker.io"]
  mirrors = ["$REGISTRY_ADDR"]

[registry."$REGISTRY_ADDR"]
  http = true
EOF
if pid_alive buildkitd >/dev/null && ! cmp -s "$ETC/buildkitd.toml.new" "$ETC/buildkitd.toml"; then
	log "buildkitd.toml changed: restarting buildkitd"
	stop_pid buildkitd 30
fi
if pid_alive buildkitd >/dev/null && ! buildctl debug workers 2>/dev/null | grep -q "linux/$FOREIGN_ARCH"; then
	log "buildkitd started before qemu was registered (no linux/$FOREIGN_ARCH): restarting it"
	stop_pid buildkitd 30
fi
mv "$ETC/buildkitd.toml.new" "$ETC/buildkitd.toml"
bk_up() { buildctl debug workers; }
if ! pid_alive buildkitd >/dev/null; then
	[ ${#BK_SOCK} -lt 100 ] || die "socket path too long for a unix socket: $BK_SOCK (set AUTOCACHE_E2E_CACHE)"
	rm -f "$BK_SOCK" "$BK_OTEL_SOCK"
	# runc creates a `buildkit` cgroup in each hierarchy; note whether it
	# existed before us, so down.sh removes only ours.
	if [ ! -e "$RUN_DIR/preexisting-cgroup" ] && [ ! -e "$RUN_DIR/ours-cgroup" ]; then
		if compgen -G '/sys/fs/cgroup/*buildkit' >/dev/null || compgen -G '/sys/fs/cgroup/*/buildkit' >/dev/null; then
			touch "$RUN_DIR/preexisting-cgroup"
		else
			touch "$RUN_DIR/ours-cgroup"
		fi
	fi
	log "starting buildkitd $BUILDKIT_VERSION"
	TMPDIR="$TMP" start_daemon buildkitd "$LOG/buildkitd.log" "$BIN/buildkitd" --config "$ETC/buildkitd.toml"
fi
wait_until 60 "buildkitd (log: $LOG/buildkitd.log)" bk_up
check_started buildkitd
buildctl debug workers | grep -q "linux/$FOREIGN_ARCH" ||
	die "buildkitd does not list linux/$FOREIGN_ARCH (is $BINFMT/$BINFMT_NAME enabled? log: $LOG/buildkitd.log)"

phase_time "setup engine" $((SECONDS - t0))
t_images=$SECONDS

# --- images ---------------------------------------------------------------------
# Each image is an entry of the machine-level cache, image-NAME/KEY, with
# two OCI layouts, online/ and hermetic/ (the Dockerfiles' two targets), KEY
# a hash of its inputs. It is built (by this buildkitd, with --output
# type=oci) only when the machine has no entry for its key, and pushed into
# this checkout's registry only when the registry lacks it (stamps).
go_env
(cd "$REPO" && run_logged build-ocipush go build -o "$BIN/ocipush" ./integration/cmd/ocipush)
in_registry() { # REPO TAG
	curl -fsS -o /dev/null -I \
		-H 'Accept: application/vnd.oci.image.index.v1+json' \
		-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.list.v2+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY_ADDR/v2/$1/manifests/$2"
}
# fresh STAMP HASH REF...: true if the stamp says HASH and every REF (repo:tag)
# is in the registry.
fresh() {
	local stamp="$STAMPS/$1" hash="$2" ref; shift 2
	[ "$(cat "$stamp" 2>/dev/null)" = "$hash" ] || return 1
	for ref in "$@"; do in_registry "${ref%:*}" "${ref##*:}" || return 1; done
}
# build_layout LOGNAME DIR TARGET buildctl-args...: build TARGET into the OCI
# layout DIR.
build_layout() {
	local logname="$1" dir="$2" target="$3"; shift 3
	run_logged "build-$logname" buildctl build --progress=plain --frontend dockerfile.v0 \
		--opt target="$target" --opt build-arg:REGISTRY="$REGISTRY_ADDR" "$@" \
		--output "type=oci,dest=$dir,tar=false${layer_compression:+,compression=$layer_compression}"
}
# build_targets DIR NAME buildctl-args...: both targets of image NAME.
build_targets() {
	local dir="$1" name="$2"; shift 2
	log "building $name"
	build_layout "$name-online" "$dir/online" online "$@"
	build_layout "$name-hermetic" "$dir/hermetic" hermetic "$@"
}
# ensure_image NAME KEY TAGS(comma-separated) buildctl-args...: the image in
# this registry as online/TAG and library/TAG for each tag.
ensure_image() {
	local name="$1" key="$2" tags t=() dir; shift 2
	IFS=, read -ra t <<<"$1"; shift
	if fresh "$name" "$key" "${t[@]/#/online/}" "${t[@]/#/library/}"; then
		mc_have "image-$name" "$key" || true # (keeps the entry among the newest)
		return 0
	fi
	mc_make "image-$name" "$key" 2 build_targets "$name" "$@"
	dir="$(mc_path "image-$name" "$key")"
	run_logged "push-$name-online" ocipush "$dir/online" "${t[@]/#/$REGISTRY_ADDR/online/}"
	run_logged "push-$name-hermetic" ocipush "$dir/hermetic" "${t[@]/#/$REGISTRY_ADDR/library/}"
	echo "$key" >"$STAMPS/$name"
}

# The demo's frontend image (its binary is built by now), alongside the base images.
fe_pid=
if [ -n "$fe_go_pid" ]; then
	wait "$fe_go_pid" || die "go build of the frontend failed (log: $LOG/build-frontend-go.log)"
	mc_make frontend "$fe_key" 6 "$fe_builder" &
	fe_pid=$!
fi

# debian:bookworm-slim (amd64 and arm64) and debian:trixie-slim (amd64),
# from the debootstrap tars.
for p in "${mkrootfs_pids[@]}"; do
	wait "$p" || die "debootstrap failed (logs: $LOG/mkrootfs-*.log)"
done
mkrootfs_pids=()
declare -A hashes=()
for suite in "${suites[@]}"; do
	# shellcheck disable=SC2086 # arch list
	h="$(debian_key "$suite" "${debian_platforms[$suite]}" ${debian_arches[$suite]})"
	hashes[debian-$suite]="$h"
	if ! mc_have "image-debian-$suite" "$h"; then # the context: links to the tars
		for arch in ${debian_arches[$suite]}; do
			mc_link "$(mc_path rootfs "$(rootfs_key "$suite" "$arch")")/rootfs.tar" "$ROOTFS/$suite-slim-$arch.tar"
		done
	fi
	ensure_image "debian-$suite" "$h" "debian:$suite-slim" \
		--local context="$ROOTFS" --local dockerfile="$IMAGES_DIR/debian" \
		--local hostca="$CTX/hostca" --opt context:hostca=local:hostca \
		--opt build-arg:SUITE="$suite" --opt platform="${debian_platforms[$suite]}"
done
hashes[debian]="${hashes[debian-$DEBIAN_SUITE]}"

# python, node, golang, rust and maven, built in parallel on top of it; then
# the images built on one of those (poetry on python).
# The host's Rust toolchain (rustup's), copied into the rust image like Go
# into the golang one; without it there is no rust image.
rust_version=
if rust_sysroot="$("$HOST_RUSTC" --print sysroot 2>/dev/null)" && [ -x "$HOST_RUSTUP" ]; then
	rust_version="$("$HOST_RUSTC" --version | cut -d' ' -f2)" # 1.95.0
else
	log "WARNING: no rustup toolchain on the host ($HOST_RUSTC): no rust image"
fi
# rust_context: a copy of the toolchain without share/doc (0.8 GB of HTML)
# as the build context, made again only when the version changes.
rust_context() {
	[ "$(cat "$CTX/rust-toolchain.version" 2>/dev/null)" != "$rust_version" ] || return 0
	log "copying the host's Rust $rust_version toolchain to $CTX/rust-toolchain"
	rm -rf "$CTX/rust-toolchain" "$CTX/rustup" && mkdir -p "$CTX/rust-toolchain" "$CTX/rustup"
	tar -C "$rust_sysroot" --exclude=./share/doc -cf - . | tar -C "$CTX/rust-toolchain" -xf -
	cp "$HOST_RUSTUP" "$CTX/rustup/rustup"
	echo "$rust_version" >"$CTX/rust-toolchain.version"
}
declare -A tags=(
	[python]="python:3.11-slim"
	[node]="node:18-slim"
	[golang]="golang:$go_version,golang:$go_minor"
	[rust]="rust:$rust_version-slim,rust:${rust_version%.*}-slim,rust:1-slim"
	[maven]="maven:3.8.7-openjdk-17-slim,maven:3.8-openjdk-17-slim"
	[poetry]="python:3.11-slim-poetry"
)
declare -A base=([poetry]=python) # built FROM this image (default: debian)
# build_wave IMG...: make sure of these images, in parallel.
build_wave() {
	local img h pids=() failed=0 p
	local -a inputs common
	for img in "$@"; do
		[ "$img" != rust ] || [ -n "$rust_version" ] || continue
		inputs=("${hashes[${base[$img]:-debian}]}" "$IMAGES_DIR/$img")
		[ "$img" != golang ] || inputs+=("go$go_version")
		[ "$img" != rust ] || inputs+=("rust$rust_version" "$HOST_RUSTUP")
		h="$(mc_hash "${inputs[@]}")"
		hashes[$img]="$h"
		common=(--local context="$IMAGES_DIR/$img" --local dockerfile="$IMAGES_DIR/$img")
		if [ "$img" = golang ]; then # the host's Go, as the named context `goroot`
			common+=(--local goroot="$HOST_GOROOT" --opt context:goroot=local:goroot
				--opt build-arg:GOLANG_VERSION="$go_version")
		fi
		if [ "$img" = rust ]; then # the host's Rust, as `rusttoolchain` and `rustup`
			mc_have "image-rust" "$h" || rust_context
			common+=(--local rusttoolchain="$CTX/rust-toolchain" --opt context:rusttoolchain=local:rusttoolchain
				--local rustup="$CTX/rustup" --opt context:rustup=local:rustup
				--opt build-arg:RUST_VERSION="$rust_version")
		fi
		ensure_image "$img" "$h" "${tags[$img]}" "${common[@]}" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || failed=1; done
	[ "$failed" = 0 ] || die "building the base images failed (logs: $LOG/build-*.log, $LOG/push-*.log)"
}
build_wave "${wave1[@]}"
[ ${#wave2[@]} = 0 ] || build_wave "${wave2[@]}"

# The frontend image, unless the demo's started above.
[ -n "$fe_pid" ] || mc_make frontend "$fe_key" 6 "$fe_builder"
[ -z "$fe_pid" ] || wait "$fe_pid" || die "building the frontend image failed (logs: $LOG/build-frontend*.log)"
fe_digest="$(run_logged push-frontend ocipush "$(mc_path frontend "$fe_key")/oci" \
	"$REGISTRY_ADDR/autocache:1" "$REGISTRY_ADDR/autocache:dev" && tail -n1 "$LOG/push-frontend.log")"
phase_time "images engine" $((SECONDS - t_images))

log "engine up in $((SECONDS - t0)) s"

# --- exports (the only stdout) -------------------------------------------------------
q() { printf '%q' "$1"; }
echo "export PATH=$(q "$BIN"):\"\$PATH\""
echo "export BUILDKIT_HOST=$(q "$BUILDKIT_HOST")"
echo "export AUTOCACHE_FRONTEND=$(q "$REGISTRY_ADDR/autocache:1")"
echo "export AUTOCACHE_FRONTEND_DIGEST=$(q "$fe_digest")"
echo "export AUTOCACHE_REGISTRY=$(q "$REGISTRY_ADDR")"
if [ -n "$have_pkgserver" ]; then
	echo "export AUTOCACHE_STATS=$(q "http://$PKGSERVER_ADDR/stats")"
	echo "export AUTOCACHE_PKGSERVER=$(q "http://$PKGSERVER_ADDR")"
	echo "export AUTOCACHE_NETWORK=$(q "$network")"
fi
echo "export AUTOCACHE_E2E_CACHE=$(q "$CACHE")"
