# autocache — see README.md. The first two commands on a fresh machine:
#   make demo   # start the embedded engine, build examples/ with upstream and autocache, print a table
#   make test   # unit tests, then the integration tests on the embedded engine
SHELL := /bin/bash
GO ?= go
ENGINE := integration/engine

.PHONY: image all build test tools unit unit-tests e2e e2e-up e2e-down demo conformance bench bench-cpu cache-bench fmt vet fuzz clean cache-size clean-cache

all: build

build:
	$(GO) build -o bin/autocache ./cmd/autocache
	CGO_ENABLED=0 $(GO) build -o bin/autocache-frontend ./cmd/autocache-frontend

# The frontend image for linux/amd64 and linux/arm64, tagged 1, 1.N, 1.N.M from
# ./VERSION: REGISTRY=host/path pushes it, OCI=dir writes an OCI layout
# (hack/image.sh; README "Hosting the frontend image").
image:
	REGISTRY=$(REGISTRY) OCI=$(OCI) hack/image.sh

# make test = vet + gofmt + unit tests, then the end-to-end tests against a real
# buildkitd, registry and hermetic package registries (started and stopped here).
test: unit e2e

# The programs the unit tests run (the hermetic registries' tests use the real
# pip, npm, apt-get, go and cargo), from Debian's packages when missing.
tools:
	@integration/tools.sh

unit: tools
	@integration/phases.sh run unit $(MAKE) --no-print-directory unit-tests

unit-tests: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) test ./...

vet:
	$(GO) vet ./...
	$(GO) vet -tags e2e ./integration/...

# The engine's phases (setup, images) and the tests' (e2e) are timed; the ten
# slowest tests are printed at the end (integration/engine/e2e.sh).
e2e:
	GO=$(GO) $(ENGINE)/with-engine.sh $(ENGINE)/e2e.sh

e2e-up:
	@$(ENGINE)/up.sh

e2e-down:
	@$(ENGINE)/down.sh

# The demo builds only the images it uses (AUTOCACHE_E2E_IMAGES=demo) and
# serves packages through a network profile (NETWORK=RATE,LATENCY; NETWORK=
# for loopback speed), so its times show what a cache saves on a real network.
# REGISTRIES=real builds real packages from the real registries this machine
# reaches instead (Debian's mirror, npm, the Go proxy; not PyPI), counted from
# each tool's own output.
NETWORK ?= 50Mbit,30ms
REGISTRIES ?= hermetic
demo:
	AUTOCACHE_E2E_IMAGES=demo AUTOCACHE_NETWORK=$(NETWORK) $(ENGINE)/with-engine.sh $(GO) run ./integration/cmd/demo -registries $(REGISTRIES)

# BuildKit's own Dockerfile suite against stock upstream and autocache, side by
# side (docs/conformance.md). Root; about 13 min warm, 25-40 min cold on 2 cores.
conformance:
	integration/conformance/run.sh

# What autocache costs, every figure a ratio measured side by side in one
# run on the embedded engine, in one table with its goals (exit 1 when one is
# missed beyond its noise margin; docs/performance.md): the transform's CPU
# against upstream's conversion, the no-op rebuild and the cold start against
# upstream's frontend image built the same way, the rebuild after one new
# dependency against hand-written mounts, the gateway's reads. About 15
# minutes. BENCH_ONLY=cpu,noop,reads,warm,cold picks sections; BENCH_ROUNDS=9.
BENCH_ONLY ?=
BENCH_ROUNDS ?= 9
bench:
	AUTOCACHE_BENCH=1 AUTOCACHE_BENCH_ONLY=$(BENCH_ONLY) AUTOCACHE_BENCH_ROUNDS=$(BENCH_ROUNDS) $(ENGINE)/with-engine.sh $(GO) test -tags e2e -count=1 -timeout 60m -run '^TestBenchmark$$' -v ./integration/

# The CPU figures alone, without the engine (a minute): BENCH= passes flags
# (-rounds 7, -all for a row per corpus file). The Go benchmarks behind
# them, for profiles: go test -bench . ./internal/perf/ ./pkgmgr/
bench-cpu:
	$(GO) run ./internal/perf/perftable $(BENCH)

# What moving caches between builders is worth (docs/ci.md): cold build vs
# import + build vs warm build, and the archives' sizes, with packages
# served through the demo's network profile (NETWORK=). About 10 minutes.
cache-bench:
	AUTOCACHE_BENCH=1 AUTOCACHE_NETWORK=$(NETWORK) $(ENGINE)/with-engine.sh $(GO) test -tags e2e -count=1 -timeout 60m -run '^TestCacheBenchmark$$' -v ./integration/

# Every fuzz target for FUZZTIME each (docs/fuzzing.md).
FUZZTIME ?= 60s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime $(FUZZTIME) -parallel 1 ./pkgmgr/
	$(GO) test -run '^$$' -fuzz '^FuzzSplice$$' -fuzztime $(FUZZTIME) -parallel 1 ./pkgmgr/
	$(GO) test -run '^$$' -fuzz '^FuzzEdits$$' -fuzztime $(FUZZTIME) -parallel 1 ./pkgmgr/internal/shell/
	$(GO) test -run '^$$' -fuzz '^FuzzTransform$$' -fuzztime $(FUZZTIME) -parallel 1 ./llbtransform/

fmt:
	gofmt -w $$(git ls-files '*.go')

# This checkout's files only; the machine-level cache (binaries, base images,
# the frontend image, Go's caches: integration/engine/mcache.sh) stays for the
# next checkout: `make cache-size` shows it, `make clean-cache` empties it.
clean:
	-$(ENGINE)/down.sh
	rm -rf bin .cache

cache-size:
	@$(ENGINE)/mcache.sh size

clean-cache:
	$(ENGINE)/mcache.sh clean
