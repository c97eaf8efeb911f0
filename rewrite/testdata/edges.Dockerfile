# syntax=docker/dockerfile:1
# autocache=managers=apt,pip,uv,go,zypper

# Shapes the rewrite has to write back into the text.
FROM debian:bookworm-slim AS apt
RUN set -eux; \
    apt-get update; \
# a comment inside the instruction
    apt-get install -y --no-install-recommends \
        ca-certificates \

        curl; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*

FROM python:3.12-slim AS py
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir flask
RUN <<EOF
set -e
pip install --no-cache-dir uv
uv pip install --system --no-cache httpx
EOF

FROM python:3.12-slim AS user
ENV HOME=/home/app
USER 1000:1000
RUN pip install --user flask

FROM python:3.12-slim AS off
# autocache: off
RUN pip install requests

FROM golang:1.26 AS gobuild
ENV GOPATH=/go
WORKDIR /src
RUN go mod download
RUN go build -o /app . && go clean -cache

FROM opensuse/leap:15.6 AS suse
RUN zypper --non-interactive install -y curl && zypper clean --all

FROM scratch
COPY --from=apt /etc/hostname /apt
COPY --from=py /etc/hostname /py
COPY --from=user /etc/hostname /user
COPY --from=off /etc/hostname /off
COPY --from=gobuild /app /app
COPY --from=suse /etc/hostname /suse
