#!/usr/bin/env bash
# Install what the embedded engine needs, idempotently (run by up.sh; safe to
# run alone). Logs go to stderr and $CACHE/log/; nothing is printed on stdout.
#
#   - apt: runc (buildkitd's OCI worker), debootstrap (the offline Debian base
#     image), curl (readiness probes). Installed system-wide: the only thing
#     the harness leaves outside $CACHE.
#   - docker-registry: Debian's distribution v2.8.2, but NOT apt-installed: the
#     package's postinst creates a system user and starts an init.d service on
#     :5000 wherever policy-rc.d allows it. We `apt-get download` the .deb and
#     extract the binary into $CACHE/bin instead.
#   - qemu-aarch64-static: Debian's qemu-user-static, also not apt-installed
#     (its postinst registers binfmt handlers for every architecture); only
#     this binary goes to $BIN/qemu-binfmt/. Fetched in the apt phase: up.sh
#     needs it for the arm64 debootstrap.
#   - buildkitd + buildctl $BUILDKIT_VERSION, built from the Go module proxy
#     through a wrapper module (buildkit's go.mod has `exclude` lines, so
#     `go install pkg@version` refuses it), caches in $CACHE/go.
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

# apt_binary PACKAGE PATH DEST: one file of a Debian package, without
# installing it (apt-get download, dpkg-deb -x).
apt_binary() {
	local pkg="$1" file="$2" dest="$3" d="$DEBS/$1"
	log "fetching Debian's $pkg package ($file only)"
	rm -rf "$d" && mkdir -p "$d"
	# apt-get download writes to the cwd; chmod so the _apt sandbox user can write.
	chmod 0777 "$d"
	if ! (cd "$d" && apt-get download "$pkg") >"$LOG/setup-$pkg.log" 2>&1; then
		run_logged setup-apt-update apt-get update
		(cd "$d" && run_logged "setup-$pkg" apt-get download "$pkg")
	fi
	dpkg-deb -x "$d/${pkg}"_*.deb "$d/root"
	mkdir -p "$(dirname "$dest")"
	cp "$d/root/$file" "$dest.tmp"
	mv "$dest.tmp" "$dest"
	rm -rf "$d"
}
if [ "$phase" != tools ] && [ ! -x "$QEMU" ]; then
	apt_binary qemu-user-static usr/bin/qemu-aarch64-static "$QEMU"
fi
[ "$phase" != apt ] || exit 0

# --- docker-registry (binary only, from Debian's .deb) -------------------------
[ -x "$BIN/docker-registry" ] || apt_binary docker-registry usr/bin/docker-registry "$BIN/docker-registry"

# --- buildkitd + buildctl from the Go module proxy ----------------------------
have_version() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -qF " $BUILDKIT_VERSION"; }
if ! have_version "$BIN/buildkitd" || ! have_version "$BIN/buildctl"; then
	go_env
	mod="$SRC/bkbuild"
	mkdir -p "$mod"
	# The exclude block is buildkit's own (its go.mod is only honoured for the
	# main module); without it `go get` resolves different versions.
	cat >"$mod/go.mod" <<-EOF
		module local/bkbuild

		go 1.26.8

		exclude (
		    github.com/davecgh/go-spew v1.1.2-0.20180830191138-d8f796af33cc
		    github.com/pmezard/go-difflib v1.0.1-0.20181226105442-5d4384ee4fb2
		)
	EOF
	cat >"$mod/tools.go" <<-'EOF'
		//go:build tools

		package tools

		import (
		    _ "github.com/moby/buildkit/cmd/buildctl"
		    _ "github.com/moby/buildkit/cmd/buildkitd"
		)
	EOF
	log "downloading buildkit $BUILDKIT_VERSION modules (Go proxy)"
	(cd "$mod" && run_logged setup-buildkit-get go get \
		"github.com/moby/buildkit/cmd/buildkitd@$BUILDKIT_VERSION" \
		"github.com/moby/buildkit/cmd/buildctl@$BUILDKIT_VERSION")
	log "compiling buildkitd + buildctl (about 90 s cold on 2 cores)"
	(cd "$mod" && run_logged setup-buildkit-build nice -n 10 go build \
		-ldflags "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
		-o "$BIN/" github.com/moby/buildkit/cmd/buildkitd github.com/moby/buildkit/cmd/buildctl)
	have_version "$BIN/buildkitd" || die "buildkitd --version does not say $BUILDKIT_VERSION"
fi
log "setup ok: $(buildkitd --version)"
