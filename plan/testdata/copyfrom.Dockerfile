FROM golang:1.26 AS deps
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download

FROM deps AS build
COPY . .
RUN CGO_ENABLED=0 go build -o /out/app .

FROM python:3.12-slim AS wheels
RUN pip wheel --wheel-dir /wheels flask && pip download -d /dl requests

FROM python:3.12-slim
COPY --from=deps /root/go/pkg/mod /mods
COPY --from=build /out/app /usr/local/bin/app
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels pip install --no-index /wheels/*
RUN pip install --no-cache-dir gunicorn
