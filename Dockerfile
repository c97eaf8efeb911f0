# The autocache frontend image: a static binary on scratch with the labels of
# upstream's dockerfile-frontend, so BuildKit grants it the same capabilities.
ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
ARG TARGETOS TARGETARCH
ARG VERSION=dev
# MAIN is the command built; `make bench-noop` builds upstream's
# dockerfile-frontend the same way, to compare like with like.
ARG MAIN=./cmd/autocache-frontend
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
RUN --mount=type=bind,target=. \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -tags "netgo static_build osusergo" \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/autocache-frontend "$MAIN"

FROM scratch AS release
ARG VERSION=dev REVISION=unknown SOURCE=https://github.com/autocache/autocache
LABEL org.opencontainers.image.title="autocache" \
      org.opencontainers.image.description="BuildKit Dockerfile frontend that adds cache mounts to package-manager RUN steps" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts,moby.buildkit.frontend.gitquerystring,moby.buildkit.frontend.contexts.zstd"
COPY --from=build /out/autocache-frontend /bin/autocache-frontend
ENTRYPOINT ["/bin/autocache-frontend"]
