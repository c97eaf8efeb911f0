#!/usr/bin/env bash
# smoke.sh: quick check that a running engine works end to end (about a
# minute warm). Needs the exports of up.sh in the environment:
#
#   eval "$(make -s e2e-up)"; integration/engine/smoke.sh
#   # or: integration/engine/with-engine.sh integration/engine/smoke.sh
#
# Builds, with the upstream frontend, one Dockerfile per base image that
# installs a package from the hermetic package server (checking that its
# counter grows by one), one that uses the real Debian mirror, npm registry
# and Go proxy (the "online" escape hatches), and one through
# `# syntax=$AUTOCACHE_FRONTEND`. Prints one line per check on stderr.
set -euo pipefail
: "${BUILDKIT_HOST:?run eval \"\$(make -s e2e-up)\" first}" "${AUTOCACHE_STATS:?}" "${AUTOCACHE_FRONTEND:?}"
work="$(mktemp -d "${AUTOCACHE_E2E_CACHE:-/tmp}/tmp/smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT
nonce="$(date +%s%N)" # busts the layer cache so every run really downloads

count() { curl -fsS "$AUTOCACHE_STATS" | sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p"; }

# check NAME COUNTER DOCKERFILE-TEXT: build it; COUNTER ("" = none) must grow by 1.
check() {
	local name="$1" counter="$2" before after t0=$SECONDS
	mkdir -p "$work/$name"
	cat >"$work/$name/Dockerfile"
	[ -z "$counter" ] || before="$(count "$counter")"
	if ! (cd "$work/$name" && buildctl build --progress=plain --frontend dockerfile.v0 \
		--local context=. --local dockerfile=. --opt build-arg:NONCE="$nonce") >"$work/$name.log" 2>&1; then
		tail -n 30 "$work/$name.log" >&2
		echo "FAIL $name" >&2
		return 1
	fi
	if [ -n "$counter" ]; then
		after="$(count "$counter")"
		[ "$after" = "$((before + 1))" ] || { echo "FAIL $name: $counter counter $before -> $after" >&2; return 1; }
	fi
	echo "ok   $name ($((SECONDS - t0)) s)" >&2
}

check apt apt <<'EOF'
FROM debian:bookworm-slim
ARG NONCE
RUN test "$(sha256sum < /etc/apt/apt.conf.d/docker-clean | cut -c1-16)" = 484f60f8d215bf22 \
 && apt-get update && apt-get install -y acpkg-001 && rm -rf /var/lib/apt/lists/*
EOF
check pip pip <<'EOF'
FROM python:3.11-slim
ARG NONCE
RUN pip install --no-cache-dir acpkg-001 && pip3 show acpkg-001
EOF
check npm npm <<'EOF'
FROM node:18-slim
ARG NONCE
WORKDIR /app
RUN npm install acpkg-001 && test -d node_modules/acpkg-001
USER node
RUN test "$(id -u):$(id -g):$HOME" = 1000:1000:/home/node
EOF
check go go <<'EOF'
FROM golang:1.26
ARG NONCE
WORKDIR /src
RUN test "$(stat -c %a /go)" = 1777 && test "$GOPATH" = /go \
 && printf 'module example.com/smoke\n\ngo 1.26\n\nrequire acpkg.test/m001 v1.0.0\n' > go.mod \
 && go mod download && test -d /go/pkg/mod/acpkg.test/m001@v1.0.0
EOF
check online "" <<'EOF'
FROM debian:bookworm-slim AS apt
ARG NONCE
RUN sed -i '/^Enabled: no$/d' /etc/apt/sources.list.d/debian.sources \
 && apt-get update && apt-get install -y --no-install-recommends hello && hello
FROM node:18-slim AS npm
ARG NONCE
WORKDIR /app
RUN npm install --registry=https://registry.npmjs.org/ is-number@7.0.0
FROM golang:1.26 AS go
ARG NONCE
ENV GOPROXY=https://proxy.golang.org,direct GOFLAGS=
WORKDIR /src
RUN printf 'module example.com/smoke\n\ngo 1.26\n' > go.mod && go get golang.org/x/text@v0.20.0
FROM scratch
COPY --from=apt /etc/hostname /apt
COPY --from=npm /app/package.json /npm
COPY --from=go /src/go.sum /go
EOF
check syntax "" <<EOF
# syntax=$AUTOCACHE_FRONTEND
FROM debian:bookworm-slim
ARG NONCE
RUN apt-get update && apt-get install -y acpkg-002 && rm -rf /var/lib/apt/lists/*
EOF
grep -q 'autocache' "$work/syntax.log" || { echo "FAIL syntax: no sign of autocache in the build log" >&2; exit 1; }
echo "smoke: all ok" >&2
