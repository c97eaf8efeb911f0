#!/usr/bin/env bash
# Make the images the conformance run needs. Each is an entry of the
# machine-level cache (integration/engine/mcache.sh), keyed by its inputs,
# built only when the machine has no entry for its key, with a helper
# buildkitd of our own (root, socket and otel socket under $C/helper; started
# only when something must be built, stopped on exit):
#   - the stand-in base images the suite pulls from docker.io (busybox,
#     alpine, debian, hellofs), made of the static busybox from setup.sh,
#     pushed into a registry storage tree that is copied into the suite's
#     registry mirror ($C/mirror);
#   - a golang:$GO_VERSION stand-in (the host's Go) for the autocache
#     Dockerfile (only needed to build the autocache image);
#   - the stock frontend image, $C/oci/stock.tar;
#   - the autocache image from the repository's Dockerfile (the entry the
#     engine harness shares: frontend/KEY, KEY a hash of the tree),
#     $C/oci/autocache.tar, and the probe image made of it, $C/oci/probe.tar;
#   - a canary build through each column's image, which must rewrite a step.
# Needs setup.sh first. Logs go to $C/logs; nothing is printed on stdout.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdirs
SELF="${BASH_SOURCE[0]}"

HELPER_PID=""
REGISTRY_PID=""
declare -A layout=() # column -> its image's OCI layout
stop_helpers() {
	local p=()
	[ -n "$REGISTRY_PID" ] && p+=("$REGISTRY_PID")
	[ -n "$HELPER_PID" ] && p+=("$HELPER_PID")
	stop_pids 15 "${p[@]}"
	REGISTRY_PID="" HELPER_PID=""
	unmount_under "$HELPER"
}
trap stop_helpers EXIT

# --- helper buildkitd ---------------------------------------------------------
# Its own root, socket and otel socket (without [otel] buildkitd creates
# /run/buildkit/otel-grpc.sock whatever --root is). OCI worker on runc with
# host networking (no CNI here), containerd worker off. Loopback registries
# are plain HTTP without any [registry] entry. helper_up starts it once.
helper_up() {
	[ -z "$HELPER_PID" ] || return 0
	cat >"$HELPER/buildkitd.toml" <<-EOF
		root = "$HELPER/root"
		[grpc]
		  address = ["unix://$HELPER_SOCK"]
		[otel]
		  socketPath = "$HELPER/otel-grpc.sock"
		[worker.oci]
		  enabled = true
		  snapshotter = "overlayfs"
		  networkMode = "host"
		  gc = true
		  gckeepstorage = "6GB"
		[worker.containerd]
		  enabled = false
	EOF
	rm -f "$HELPER_SOCK"
	(exec setsid buildkitd --config "$HELPER/buildkitd.toml" </dev/null >>"$LOGS/helper-buildkitd.log" 2>&1) &
	HELPER_PID=$!
	for ((i = 0; i < 150; i++)); do
		buildctl --addr "unix://$HELPER_SOCK" debug workers >/dev/null 2>&1 && break
		[ -d "/proc/$HELPER_PID" ] || die "helper buildkitd exited; see $LOGS/helper-buildkitd.log"
		sleep 0.2
	done
	buildctl --addr "unix://$HELPER_SOCK" debug workers >/dev/null 2>&1 || die "helper buildkitd not ready after 30 s"
}

# bctl NAME ARGS...: a buildctl build on the helper daemon, logged as NAME.
bctl() {
	local name="$1"; shift
	helper_up
	run_logged "build-$name" buildctl --addr "unix://$HELPER_SOCK" build --progress=plain "$@"
}

# --- stand-in root filesystems ---------------------------------------------------
# make_rootfs DIR FLAVOR: /bin/busybox plus its applets, and the account
# files of the real image. busybox: every applet in /bin (as in the busybox
# image); alpine: applets where `busybox --list-full` puts them (as in Alpine).
# The busybox group file has nobody:x:65534 (TestDockerfileAddChownExpand).
make_rootfs() {
	local d="$1" flavor="$2" a
	rm -rf "$d" && mkdir -p "$d"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,var}
	chmod 1777 "$d/tmp" && chmod 0700 "$d/root"
	cp "$SRC/busybox" "$d/bin/busybox"
	if [ "$flavor" = busybox ]; then
		for a in $("$SRC/busybox" --list); do
			[ "$a" = busybox ] || ln -s busybox "$d/bin/$a"
		done
		cat >"$d/etc/passwd" <<-'EOF'
			root:x:0:0:root:/root:/bin/sh
			daemon:x:1:1:daemon:/usr/sbin:/bin/false
			bin:x:2:2:bin:/bin:/bin/false
			sys:x:3:3:sys:/dev:/bin/false
			sync:x:4:100:sync:/bin:/bin/sync
			mail:x:8:8:mail:/var/spool/mail:/bin/false
			www-data:x:33:33:www-data:/var/www:/bin/false
			operator:x:37:37:Operator:/var:/bin/false
			nobody:x:65534:65534:nobody:/home:/bin/false
		EOF
		cat >"$d/etc/group" <<-'EOF'
			root:x:0:
			daemon:x:1:
			bin:x:2:
			sys:x:3:
			adm:x:4:
			tty:x:5:
			disk:x:6:
			lp:x:7:
			mail:x:8:
			kmem:x:9:
			wheel:x:10:root
			cdrom:x:11:
			dialout:x:18:
			floppy:x:19:
			video:x:28:
			audio:x:29:
			tape:x:32:
			www-data:x:33:
			operator:x:37:
			utmp:x:43:
			plugdev:x:46:
			staff:x:50:
			lock:x:54:
			netdev:x:82:
			users:x:100:
			nobody:x:65534:
		EOF
	else
		"$SRC/busybox" --list-full | while read -r a; do
			case "$a" in */*) [ "$a" = bin/busybox ] || ln -s /bin/busybox "$d/$a" ;; esac
		done
		cat >"$d/etc/passwd" <<-'EOF'
			root:x:0:0:root:/root:/bin/sh
			bin:x:1:1:bin:/bin:/sbin/nologin
			daemon:x:2:2:daemon:/sbin:/sbin/nologin
			adm:x:3:4:adm:/var/adm:/sbin/nologin
			lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
			sync:x:5:0:sync:/sbin:/bin/sync
			shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
			halt:x:7:0:halt:/sbin:/sbin/halt
			mail:x:8:12:mail:/var/mail:/sbin/nologin
			news:x:9:13:news:/usr/lib/news:/sbin/nologin
			uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
			operator:x:11:0:operator:/root:/sbin/nologin
			man:x:13:15:man:/usr/man:/sbin/nologin
			postmaster:x:14:12:postmaster:/var/mail:/sbin/nologin
			cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
			ftp:x:21:21::/var/lib/ftp:/sbin/nologin
			sshd:x:22:22:sshd:/dev/null:/sbin/nologin
			at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
			squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
			xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
			games:x:35:35:games:/usr/games:/sbin/nologin
			cyrus:x:85:12::/usr/cyrus:/sbin/nologin
			vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
			ntp:x:123:123:NTP:/var/empty:/sbin/nologin
			smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
			guest:x:405:100:guest:/dev/null:/sbin/nologin
			nobody:x:65534:65534:nobody:/:/sbin/nologin
		EOF
		cat >"$d/etc/group" <<-'EOF'
			root:x:0:root
			bin:x:1:root,bin,daemon
			daemon:x:2:root,bin,daemon
			sys:x:3:root,bin,adm
			adm:x:4:root,adm,daemon
			tty:x:5:
			disk:x:6:root,adm
			lp:x:7:lp
			mem:x:8:
			kmem:x:9:
			wheel:x:10:root
			floppy:x:11:root
			mail:x:12:mail
			news:x:13:news
			uucp:x:14:uucp
			man:x:15:man
			cron:x:16:cron
			console:x:17:
			audio:x:18:
			cdrom:x:19:
			dialout:x:20:root
			ftp:x:21:
			sshd:x:22:
			input:x:23:
			at:x:25:at
			tape:x:26:root
			video:x:27:root
			netdev:x:28:
			readproc:x:30:
			squid:x:31:squid
			xfs:x:33:xfs
			kvm:x:34:kvm
			games:x:35:
			shadow:x:42:
			cdrw:x:80:
			www-data:x:82:
			usb:x:85:
			vpopmail:x:89:
			users:x:100:games
			ntp:x:123:
			nofiles:x:200:
			smmsp:x:209:smmsp
			locate:x:245:
			abuild:x:300:
			utmp:x:406:
			ping:x:999:
			nogroup:x:65533:
			nobody:x:65534:
		EOF
		# Tests read these to tell Alpine apart (alpine-release must be > 5 bytes).
		echo 3.18.4 >"$d/etc/alpine-release"
		cat >"$d/etc/os-release" <<-'EOF'
			NAME="Alpine Linux"
			ID=alpine
			VERSION_ID=3.18.4
			PRETTY_NAME="Alpine Linux v3.18"
			HOME_URL="https://alpinelinux.org/"
			BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
		EOF
	fi
	# shadow: one locked entry per account, as in both real images.
	awk -F: '{ print $1 ":*:19000:0:99999:7:::" }' "$d/etc/passwd" | sed '1s/^root:\*:/root:!:/' >"$d/etc/shadow"
	chmod 0640 "$d/etc/shadow"
}

# Stand-in Dockerfiles. No ENV: the frontend adds the default PATH anyway, and
# TestExportedHistory wants exactly two history entries in the base (COPY, CMD).
make_contexts() {
	make_rootfs "$CTX/busybox/rootfs" busybox
	printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["sh"]\n' >"$CTX/busybox/Dockerfile"
	make_rootfs "$CTX/alpine/rootfs" alpine
	printf 'FROM scratch\nCOPY rootfs/ /\nCMD ["/bin/sh"]\n' >"$CTX/alpine/Dockerfile"
	# tonistiigi/hellofs is a FUSE server used by one security test that
	# needs `apk add fuse` anyway: a placeholder that says so and fails.
	mkdir -p "$CTX/hellofs"
	printf '#!/bin/sh\necho "conformance placeholder: the real hellofs is a FUSE server" >&2\nexit 1\n' >"$CTX/hellofs/hellofs"
	chmod 0755 "$CTX/hellofs/hellofs"
	printf 'FROM scratch\nCOPY hellofs /hellofs\n' >"$CTX/hellofs/Dockerfile"
}

# mirror_has REPO TAG: the tag exists in the mirror's storage (plain
# distribution v2 layout, readable without a running registry).
mirror_has() { [ -s "$MIRROR/data/docker/registry/v2/repositories/$1/_manifests/tags/$2/current/link" ]; }

# registry_config ROOT FILE: a registry config for seeding and garbage
# collection with storage root ROOT, in its own file (the suite writes, and
# owns, $MIRROR/config.yaml).
registry_config() {
	cat >"$2" <<-EOF
		version: 0.1
		log:
		  level: info
		storage:
		  filesystem:
		    rootdirectory: $1
		  delete:
		    enabled: true
		http:
		  addr: 127.0.0.1:0
	EOF
}

# Earlier suite runs each copied their frontend image into the mirror as
# buildkit_test/<random>:latest; drop those repositories and collect their
# blobs so the mirror does not grow run after run.
if [ -d "$MIRROR/data/docker/registry/v2/repositories/buildkit_test" ]; then
	rm -rf "$MIRROR/data/docker/registry/v2/repositories/buildkit_test"
	registry_config "$MIRROR/data" "$HELPER/registry.yaml"
	run_logged mirror-gc registry garbage-collect "$HELPER/registry.yaml"
fi

# --- seed the mirror --------------------------------------------------------------
# Every image every selected Run of TestIntegration copies from docker.io must
# be present by tag: the suite skips the copy when the tag resolves (it never
# compares the pinned digest), and a failed copy panics the whole binary.
# The stand-ins are pushed once per machine into a registry storage tree (the
# entry conformance-seed/KEY), which is copied into this checkout's mirror.
SEED=(
	"busybox library/busybox:latest library/busybox:stable library/busybox:stable-musl amd64/debian:bullseye-20230109-slim"
	"alpine library/alpine:latest"
	"hellofs tonistiigi/hellofs:latest"
)
# seed_storage DIR: DIR/data, a registry storage tree with the stand-ins.
seed_storage() {
	log "pushing the stand-in images into a registry storage tree"
	make_contexts
	registry_config "$1/data" "$HELPER/seed-registry.yaml"
	: >"$LOGS/seed-registry.log"
	(exec setsid registry serve "$HELPER/seed-registry.yaml" </dev/null >>"$LOGS/seed-registry.log" 2>&1) &
	REGISTRY_PID=$!
	local port="" s ctx names ref
	for ((i = 0; i < 100; i++)); do
		port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOGS/seed-registry.log" | head -n1)"
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || die "seeding registry did not start; see $LOGS/seed-registry.log"
	for s in "${SEED[@]}"; do
		ctx="${s%% *}" names=""
		for ref in ${s#* }; do names="${names:+$names,}127.0.0.1:$port/$ref"; done
		bctl "seed-$ctx" --frontend dockerfile.v0 --local context="$CTX/$ctx" --local dockerfile="$CTX/$ctx" \
			--output "type=image,\"name=$names\",push=true"
	done
	stop_pids 10 "$REGISTRY_PID"
	REGISTRY_PID=""
}
seed_key="$(mc_hash "$SRC/busybox" "$SELF")"
seeded=1
for s in "${SEED[@]}"; do
	for ref in ${s#* }; do mirror_has "${ref%:*}" "${ref##*:}" || seeded=0; done
done
if [ $seeded = 0 ] || ! stamp_ok seed "$seed_key"; then
	mc_make conformance-seed "$seed_key" 2 seed_storage
	log "seeding the registry mirror with the stand-in images"
	mkdir -p "$MIRROR/data"
	cp -a "$(mc_path conformance-seed "$seed_key")/data/." "$MIRROR/data/"
	stamp_set seed "$seed_key"
fi

# --- golang stand-in ------------------------------------------------------------
# The autocache Dockerfile builds FROM golang:$GO_VERSION, which lives on
# Docker Hub. The stand-in is the busybox rootfs (for /bin/sh) plus the
# host's Go (same version, checked) and the host's CA bundle (HTTPS to the
# Go module proxy goes through an intercepting proxy whose CA only the host
# trusts), with the official image's ENV and WORKDIR. It is handed to the
# build as a named context from an OCI layout, by digest. Made only when the
# autocache image must be built.
host_go="$(go env GOVERSION)"
[ "$host_go" = "go$GO_VERSION" ] || die "the Dockerfile builds with Go $GO_VERSION but the host has $host_go"
build_golang() { # DIR
	log "building the golang:$GO_VERSION stand-in from $HOST_GOROOT"
	mkdir -p "$CTX/golang"
	make_rootfs "$CTX/golang/rootfs" busybox
	cp /etc/ssl/certs/ca-certificates.crt "$CTX/golang/ca-certificates.crt"
	cat >"$CTX/golang/Dockerfile" <<-EOF
		FROM scratch
		COPY rootfs/ /
		COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
		COPY --from=goroot / /usr/local/go
		ENV GOLANG_VERSION=$GO_VERSION GOTOOLCHAIN=local GOPATH=/go
		ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		WORKDIR /go
	EOF
	bctl golang --frontend dockerfile.v0 --local context="$CTX/golang" --local dockerfile="$CTX/golang" \
		--local goroot="$HOST_GOROOT" --opt context:goroot=local:goroot \
		--output "type=oci,dest=$1/oci,tar=false,name=golang:$GO_VERSION"
}

# --- frontend images -----------------------------------------------------------------
# Both are OCI tars (the suite's FRONTEND_GATEWAY_ONLY=local:<tar> reads the
# first manifest). The stock image is packaged like ours: scratch, the same
# LABEL lines (taken from the repository's Dockerfile, so they cannot drift:
# the caps label decides which frontend caps a build may request, the
# network label makes the frontend run without network), the binary in /bin.
rm -rf "$CTX/stock" && mkdir -p "$CTX/stock"
cp "$MOD/dockerfile-frontend" "$CTX/stock/dockerfile-frontend"
{
	echo "FROM scratch AS release"
	grep '^LABEL moby\.buildkit\.' "$REPO/Dockerfile"
	echo "COPY dockerfile-frontend /bin/dockerfile-frontend"
	echo 'ENTRYPOINT ["/bin/dockerfile-frontend"]'
} >"$CTX/stock/Dockerfile"
build_stock() { # DIR
	log "building the stock frontend image"
	bctl stock --frontend dockerfile.v0 --local context="$CTX/stock" --local dockerfile="$CTX/stock" \
		--output "type=oci,dest=$1/stock.tar,name=stock-dockerfile-frontend:conformance"
}
stock_key="$(mc_hash "$CTX/stock")"
mc_make conformance-stock "$stock_key" 2 build_stock
mc_link "$(mc_path conformance-stock "$stock_key")/stock.tar" "$OCI/stock.tar"

# The autocache image: what `make image` builds (hack/image.sh: the
# repository's Dockerfile, byte for byte, for linux/amd64 and linux/arm64),
# with the VERSION the engine harness gives it (the entry is shared with it)
# and the golang stand-in as its Go base.
fe_version="$(cat "$REPO/VERSION")+$(git -C "$REPO" describe --always --dirty 2>/dev/null || echo dev)"
build_autocache() { # DIR
	local golang_key golang golang_digest
	golang_key="$(mc_hash "$SRC/busybox" "$SELF" "$host_go" /etc/ssl/certs/ca-certificates.crt)"
	mc_make conformance-golang "$golang_key" 2 build_golang
	golang="$(mc_path conformance-golang "$golang_key")/oci"
	# (one manifest in index.json; no jq on a bare Debian)
	golang_digest="$(grep -o '"digest":"sha256:[0-9a-f]*"' "$golang/index.json" | head -n1 | cut -d'"' -f4)"
	[ -n "$golang_digest" ] || die "no manifest digest in $golang/index.json"
	helper_up
	log "building the autocache image from $REPO/Dockerfile"
	OCI="$1/oci" VERSION="$fe_version" PLATFORMS=linux/amd64,linux/arm64 \
		GOLANG_CONTEXT="oci-layout://golang@$golang_digest" BUILDCTL_FLAGS="--addr unix://$HELPER_SOCK" \
		run_logged build-autocache "$REPO/hack/image.sh" -- --oci-layout golang="$golang"
}
fe_key="$(mc_frontend_key "$REPO" "$fe_version" "$GO_VERSION" linux/amd64,linux/arm64)"
mc_make frontend "$fe_key" 6 build_autocache
layout[autocache]="$(mc_path frontend "$fe_key")/oci"

# The probe image (a test mode, not a user feature: docs/conformance.md): the
# autocache image with AUTOCACHE_PROBE=1 in its environment, which makes the
# frontend add one harmless cache mount to every RUN, so that every step of
# the suite goes through the whole rewrite.
build_probe() { # DIR
	local d="$CTX/probe" digest
	mkdir -p "$d"
	printf 'FROM autocache\nENV AUTOCACHE_PROBE=1\n' >"$d/Dockerfile"
	digest="$(grep -o '"digest":"sha256:[0-9a-f]*"' "${layout[autocache]}/index.json" | head -n1 | cut -d'"' -f4)"
	log "building the probe image"
	bctl probe --frontend dockerfile.v0 --local context="$d" --local dockerfile="$d" \
		--oci-layout autocache="${layout[autocache]}" --opt "context:autocache=oci-layout://autocache@$digest" \
		--output "type=oci,dest=$1/oci,tar=false"
}
if [[ " $CONFORMANCE_COLUMNS " == *" probe "* ]]; then
	mc_make conformance-probe "$fe_key" 6 build_probe
	layout[probe]="$(mc_path conformance-probe "$fe_key")/oci"
fi

# --- canaries -------------------------------------------------------------------------
# A column whose image rewrote nothing would pass everything stock passes
# and prove nothing: each column's image first builds a canary through the
# gateway, and its frontend.autocache.steps must be above 0. probe: a RUN
# that plain autocache leaves alone (`true`); autocache: a package-manager
# step. Run on the helper daemon against a throwaway registry holding the
# busybox stand-in and the image; the result is kept per image digest.
declare -A canary=(
	[probe]='RUN true'
	[autocache]='RUN go build ./... 2>/dev/null || true'
)
go_env
(cd "$REPO" && run_logged build-ocipush go build -o "$BIN/ocipush" ./integration/cmd/ocipush)
canary_registry=""
canary_up() {
	[ -z "$canary_registry" ] || return 0
	rm -rf "$HELPER/canary" && mkdir -p "$HELPER/canary"
	cp -a "$(mc_path conformance-seed "$seed_key")/data" "$HELPER/canary/data"
	registry_config "$HELPER/canary/data" "$HELPER/canary-registry.yaml"
	: >"$LOGS/canary-registry.log"
	(exec setsid registry serve "$HELPER/canary-registry.yaml" </dev/null >>"$LOGS/canary-registry.log" 2>&1) &
	REGISTRY_PID=$!
	local port=""
	for ((i = 0; i < 100; i++)); do
		port="$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$LOGS/canary-registry.log" | head -n1)"
		[ -n "$port" ] && break
		sleep 0.1
	done
	[ -n "$port" ] || die "canary registry did not start; see $LOGS/canary-registry.log"
	canary_registry="127.0.0.1:$port"
}
check_canary() { # DIR COLUMN
	local col="$2" d="$CTX/canary-$2" steps
	canary_up
	run_logged "push-canary-$col" ocipush "${layout[$col]}" "$canary_registry/autocache-canary/$col:latest"
	mkdir -p "$d"
	printf 'FROM %s/library/busybox:latest\n%s\n' "$canary_registry" "${canary[$col]}" >"$d/Dockerfile"
	bctl "canary-$col" --frontend gateway.v0 --opt source="$canary_registry/autocache-canary/$col:latest" \
		--local context="$d" --local dockerfile="$d" --metadata-file "$LOGS/canary-$col.json"
	steps="$(grep -o '"frontend.autocache.steps": *"*[0-9]*' "$LOGS/canary-$col.json" | grep -o '[0-9]*$' || true)"
	[ "${steps:-0}" -gt 0 ] ||
		die "the $col image rewrote no step of its canary (frontend.autocache.steps=${steps:-missing}; $LOGS/canary-$col.json): its column would prove nothing"
	echo "$steps" >"$1/steps"
}
for col in $CONFORMANCE_COLUMNS; do
	[ -n "${layout[$col]:-}" ] || die "no image for the conformance column $col (columns: probe autocache)"
	digest="$(grep -o '"digest":"sha256:[0-9a-f]*"' "${layout[$col]}/index.json" | head -n1 | cut -d'"' -f4)"
	mc_make conformance-canary "$(mc_hash "$digest" "${canary[$col]}")" 20 check_canary "$col"
	log "canary: the $col image rewrote $(cat "$(mc_path conformance-canary "$(mc_hash "$digest" "${canary[$col]}")")/steps") step(s)"
	tar -C "${layout[$col]}" -cf "$OCI/$col.tar.tmp" oci-layout index.json blobs
	mv "$OCI/$col.tar.tmp" "$OCI/$col.tar"
done
log "images ok: $(du -h "$OCI/stock.tar" | cut -f1) stock; columns $CONFORMANCE_COLUMNS (frontend/$fe_key)"
