#!/usr/bin/env bash
# hack/image.sh (make image): build the autocache frontend image from the
# top-level Dockerfile for linux/amd64 and linux/arm64 (the Go build runs on
# the builder's own platform and cross-compiles: no emulation), with the OCI
# labels source, version and revision, and push it as REGISTRY/autocache
# with the tags 1, 1.N and 1.N.M of ./VERSION; or write it as an OCI layout.
#
#   make image REGISTRY=registry.example.com/tools      # push (needs write access)
#   make image OCI=out/autocache-oci                     # an OCI layout, no push
#   hack/image.sh -- --oci-layout golang=DIR             # extra buildctl build flags
#
# Talks to the builder buildctl talks to (BUILDKIT_HOST, or --addr in
# BUILDCTL_FLAGS). Prints the pushed index digest: pin it, as
# `# syntax=REGISTRY/autocache:1@sha256:…` or BUILDKIT_SYNTAX=…@sha256:….
#
# Settings (environment): PLATFORMS (default linux/amd64,linux/arm64),
# VERSION (default ./VERSION), REVISION (default git rev-parse HEAD),
# SOURCE (the repository URL for the label), GOLANG_CONTEXT (a named context
# for the Dockerfile's golang base, e.g. docker-image://mirror/golang:1.26.8
# where Docker Hub is unreachable), TAGS (default: the three above),
# METADATA (buildctl's --metadata-file). VERSION may carry build metadata
# (1.0.0+g1a2b3c4, as the test harness gives it); tags use MAJOR.MINOR.PATCH.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGISTRY="${REGISTRY:-}" OCI="${OCI:-}"
[ -n "$REGISTRY" ] || [ -n "$OCI" ] || { echo "image.sh: set REGISTRY=host/path to push, or OCI=dir for an OCI layout" >&2; exit 2; }
PLATFORMS="${PLATFORMS:-linux/amd64,linux/arm64}"
VERSION="${VERSION:-$(cat "$repo/VERSION")}"
[[ "$VERSION" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)(\+[0-9A-Za-z.-]+)?$ ]] ||
	{ echo "image.sh: VERSION must be MAJOR.MINOR.PATCH[+META], not '$VERSION'" >&2; exit 2; }
REVISION="${REVISION:-$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)}"
SOURCE="${SOURCE:-https://github.com/autocache/autocache}"
major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
TAGS="${TAGS:-$major $major.$minor $major.$minor.${BASH_REMATCH[3]}}"
[ "${1:-}" != -- ] || shift
go_version="$(sed -n 's/^ARG GO_VERSION=//p' "$repo/Dockerfile" | head -n1)"

# The Dockerfile next to a Dockerfile.dockerignore that keeps .cache (a
# harness's buildkitd state), .git and bin out of the context.
df="$(mktemp -d)"
trap 'rm -rf "$df"' EXIT
cp "$repo/Dockerfile" "$df/Dockerfile"
{
	[ ! -f "$repo/.dockerignore" ] || cat "$repo/.dockerignore"
	printf '%s\n' .cache .git bin
} >"$df/Dockerfile.dockerignore"

args=(build --progress="${PROGRESS:-plain}" --frontend dockerfile.v0
	--local context="$repo" --local dockerfile="$df"
	--opt platform="$PLATFORMS"
	--opt build-arg:VERSION="$VERSION" --opt build-arg:REVISION="$REVISION" --opt build-arg:SOURCE="$SOURCE")
[ -z "${GOLANG_CONTEXT:-}" ] || args+=(--opt "context:golang:$go_version=$GOLANG_CONTEXT")
METADATA="${METADATA:-$df/metadata.json}"
args+=(--metadata-file "$METADATA")
args+=("$@")
if [ -n "$OCI" ]; then
	args+=(--output "type=oci,dest=$OCI,tar=false")
else
	names=""
	for t in $TAGS; do names="${names:+$names,}$REGISTRY/autocache:$t"; done
	args+=(--output "type=image,\"name=$names\",push=true,oci-mediatypes=true")
fi
# shellcheck disable=SC2086 # BUILDCTL_FLAGS: words on purpose
buildctl ${BUILDCTL_FLAGS:-} "${args[@]}"
if [ -n "$OCI" ]; then
	digest="$(grep -o '"digest":"sha256:[0-9a-f]*"' "$OCI/index.json" | head -n1 | cut -d'"' -f4)"
	echo "image.sh: autocache $VERSION ($PLATFORMS) in the OCI layout $OCI: $digest" >&2
else
	digest="$(sed -n 's/.*"containerimage.digest": *"\([^"]*\)".*/\1/p' "$METADATA" | head -n1)"
	for t in $TAGS; do echo "image.sh: pushed $REGISTRY/autocache:$t@$digest" >&2; done
fi
