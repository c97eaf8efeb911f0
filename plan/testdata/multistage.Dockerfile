FROM golang:1.26 AS build
ENV GOMODCACHE=/gomod
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -o /out/app ./cmd/app

FROM python:3.12-slim AS tools
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV PIP_NO_CACHE_DIR=1
RUN python3 -m pip install --no-cache-dir awscli \
 && pip cache purge

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
RUN echo "pip install nothing" > /tmp/note
RUN <<EOF
set -e
sh -c 'npm ci --omit=dev'
EOF
USER 1000:1000
ENV HOME=/home/app
RUN pip install --user requests
COPY --from=build /out/app /usr/local/bin/app
COPY --from=tools /usr/local/bin/aws /usr/local/bin/aws
