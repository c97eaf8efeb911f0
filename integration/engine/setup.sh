#!/usr/bin/env bash
# Install what the embedded engine needs, idempotently (run by up.sh; safe to
# run alone). Logs go to stderr and $CACHE/log/; nothing is printed on stdout.
#
#   - apt: runc (buildkitd's OCI worker), debootstrap (the offline Debian base
#     image), curl (readiness probes). Installed system-wide: the only thing
#     the harness leaves outside $CACHE and the machine-level cache.
#   - docker-registry: Debian's distribution v2.8.2, but NOT apt-installed: the
#     package's postinst creates a system user and starts an init.d service on
#     :5000 wherever policy-rc.d allows it. We `apt-get download` the .deb and
#     extract the binary instead.
#   - qemu-aarch64-static: Debian's qemu-user-static, also not apt-installed
#     (its postinst registers binfmt handlers for every architecture); only
#     this binary, as $BIN/qemu-binfmt/aarch64-binfmt-P. Fetched in the apt
#     phase: up.sh needs it for the arm64 debootstrap.
#   - buildkitd + buildctl $BUILDKIT_VERSION, built from the Go module proxy
#     through a wrapper module (buildkit's go.mod has `exclude` lines, so
#     `go install pkg@version` refuses it).
# The last three are made once per machine, in the machine-level cache
# (mcache.sh), and hard-linked into $BIN.
#
# `setup.sh apt` does only the apt part, `setup.sh tools` only the rest (up.sh
# runs debootstrap in between, in parallel with the compile); no argument: both.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs
phase="${1:-all}"

# --- apt packages ------------------------------------------------------------
if [ "$phase" != tools ]; then
	missing=()
	command -v runc >/dev/null || missing+=(runc)
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v curl >/dev/null || missing+=(curl)
	if [ ${#missing[@]} -gt 0 ]; then
		log "apt-get install ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		run_logged setup-apt-update apt-get update
		run_logged setup-apt-install apt-get install -y --no-install-recommends "${missing[@]}"
	fi
fi

# Debian binaries and buildkit come from the machine-level cache (mcache.sh),
# made there once per key and hard-linked into $BIN.

# debian_file DIR PACKAGE PATH: one file of a Debian package, extracted into
# DIR without installing the package (apt-get download, dpkg-deb -x).
debian_file() {
	local dir="$1" pkg="$2" file="$3" d="$DEBS/$2.$$"
	log "fetching Debian's $pkg package ($file only)"
	rm -rf "$d" && mkdir -p "$d"
	# apt-get download writes to the cwd; chmod so the _apt sandbox user can write.
	chmod 0777 "$d"
	if ! (cd "$d" && apt-get download "$pkg") >"$LOG/setup-$pkg.log" 2>&1; then
		run_logged setup-apt-update apt-get update
		(cd "$d" && run_logged "setup-$pkg" apt-get download "$pkg")
	fi
	dpkg-deb -x "$d/${pkg}"_*.deb "$d/root"
	cp "$d/root/$file" "$dir/$(basename "$file")"
	rm -rf "$d"
}
# debian_binary PACKAGE PATH DEST: that file, cached per package and suite.
debian_binary() {
	local key
	key="$(mc_hash "$1" "$2" "$DEBIAN_SUITE")"
	mc_make "debian-$1" "$key" 2 debian_file "$1" "$2"
	mc_link "$(mc_path "debian-$1" "$key")/$(basename "$2")" "$3"
}
if [ "$phase" != tools ]; then
	debian_binary qemu-user-static usr/bin/qemu-aarch64-static "$QEMU"
fi
[ "$phase" != apt ] || exit 0

# --- docker-registry (binary only, from Debian's .deb) -------------------------
debian_binary docker-registry usr/bin/docker-registry "$BIN/docker-registry"

# --- buildkitd + buildctl from the Go module proxy ----------------------------
have_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qF " $BUILDKIT_VERSION"; }
# The wrapper module: buildkit's go.mod has `exclude` lines, which are only
# honoured for the main module (without them `go get` resolves other
# versions), so `go install pkg@version` refuses it.
bk_gomod="module local/bkbuild

go 1.26.8

exclude (
	github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
	github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
)"
bk_tools='//go:build tools

package tools

import (
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)'
bk_ldflags="-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION"
build_buildkit() {
	local out="$1" mod="$SRC/bkbuild"
	go_env
	rm -rf "$mod" && mkdir -p "$mod"
	printf '%s\n' "$bk_gomod" >"$mod/go.mod"
	printf '%s\n' "$bk_tools" >"$mod/tools.go"
	log "downloading buildkit $BUILDKIT_VERSION modules (Go proxy)"
	(cd "$mod" && run_logged setup-buildkit-get go get \
		"github.com/moby/buildkit/cmd/buildkitd@$BUILDKIT_VERSION" \
		"github.com/moby/buildkit/cmd/buildctl@$BUILDKIT_VERSION")
	log "compiling buildkitd + buildctl (about 90 s cold on 2 cores)"
	(cd "$mod" && run_logged setup-buildkit-build nice -n 10 go build -ldflags "$bk_ldflags" \
		-o "$out/" github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl)
	have_version "$out/buildkitd" || die "buildkitd --version does not say $BUILDKIT_VERSION"
}
bk_key="$(mc_hash "$BUILDKIT_VERSION" "$("$HOST_GOROOT/bin/go" version)" "$bk_gomod" "$bk_tools" "$bk_ldflags")"
mc_make buildkit "$bk_key" 2 build_buildkit
for b in buildkitd buildctl; do mc_link "$(mc_path buildkit "$bk_key")/$b" "$BIN/$b"; done

# --- the docker CLI and buildx, the clients users build with -----------------
# Not for the demo (AUTOCACHE_E2E_IMAGES=demo): it builds with buildctl only,
# and buildx's compile is about a minute of a cold machine's setup.
if [ "${AUTOCACHE_E2E_IMAGES:-all}" = demo ]; then
	log "setup ok: $(buildkitd --version) (the demo's: no docker CLI, no buildx)"
	exit 0
fi
# docker: the client binary of Debian's docker.io package (not installed: its
# postinst starts a Docker daemon); buildx: built from the Go module proxy at
# a pinned version (`go install …@version` works for it). The tests run
# `docker buildx` against this engine with buildx's remote driver
# ($BIN/cli-plugins/docker-buildx, found through DOCKER_CONFIG).
debian_binary docker.io usr/bin/docker "$BIN/docker"
build_buildx() {
	go_env
	log "compiling buildx $BUILDX_VERSION (Go proxy; a few minutes cold)"
	GOBIN="$1" run_logged setup-buildx nice -n 10 go install \
		-ldflags "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
}
bx_key="$(mc_hash "buildx $BUILDX_VERSION" "$("$HOST_GOROOT/bin/go" version)")"
mc_make buildx "$bx_key" 2 build_buildx
mc_link "$(mc_path buildx "$bx_key")/buildx" "$BIN/cli-plugins/docker-buildx"
log "setup ok: $(buildkitd --version); $("$BIN/docker" --version); buildx $BUILDX_VERSION"
