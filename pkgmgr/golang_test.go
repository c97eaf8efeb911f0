package pkgmgr

import "testing"

var (
	goMod   = "/go/pkg/mod shared 0:0"
	goBuild = "/root/.cache/go-build shared 0:0"
	goBoth  = []string{goMod, goBuild}
)

func TestGo(t *testing.T) { runCases(t, goCases) }

func init() { registerCases("go", goCases) }

var goCases = []tcase{{
	name: "distroless: go mod download", in: "go mod download", env: golangEnv, cwd: "/go/src/app",
	caches: []string{goMod}, notes: []string{"go: cache /go/pkg/mod (shared)"},
}, {
	name: "distroless: CGO_ENABLED=0 go build", in: "CGO_ENABLED=0 go build -o /go/bin/app", env: golangEnv, cwd: "/go/src/app",
	caches: goBoth,
}, {
	name: "go version / go env", in: "go version && go env GOPATH && go fmt ./...", env: golangEnv, none: true,
}, {
	name: "go run inside echo", in: `echo "go build ./..."`, env: golangEnv, none: true,
}, {
	name: "install a tool at a version", in: `go install "gotest.tools/gotestsum@${GOTESTSUM_VERSION}"`,
	env: append([]string{"GOTESTSUM_VERSION=v1.12.0"}, golangEnv...), caches: goBoth,
}, {
	name: "tests, vet, generate", in: "go generate ./... && go vet ./... && go test -race ./...", env: golangEnv, caches: goBoth,
}, {
	name: "without GOPATH: under HOME", in: "go build ./cmd/app", env: debianEnv,
	caches: []string{"/root/.cache/go-build shared 0:0", "/root/go/pkg/mod shared 0:0"},
}, {
	name: "GOMODCACHE and GOCACHE from ENV (buildx)", in: "go mod download",
	env:    append([]string{"GOMODCACHE=/root/.cache/go/modcache", "GOCACHE=/root/.cache/go/cache"}, golangEnv...),
	caches: []string{"/root/.cache/go/modcache shared 0:0"},
}, {
	name: "buildx: user mounts /root/.cache", in: "go build -o /out/app ./cmd/app", mounts: []string{"/root/.cache"},
	env:   append([]string{"GOMODCACHE=/root/.cache/go/modcache", "GOCACHE=/root/.cache/go/cache"}, golangEnv...),
	notes: []string{"skipped /root/.cache/go/modcache: the step already mounts /root/.cache"},
}, {
	name: "a user mount inside the target", in: "go build .", env: golangEnv, mounts: []string{"/root/.cache/go-build/x"},
	caches: []string{goMod}, notes: []string{"skipped /root/.cache/go-build: the step mounts /root/.cache/go-build/x inside it"},
}, {
	name: "lint: user mounts both", in: "go mod download", mounts: []string{"/go/pkg/mod", "/root/.cache/"}, env: golangEnv,
	notes: []string{"skipped /go/pkg/mod: the step already mounts /go/pkg/mod"},
}, {
	name: "GOPATH set by an earlier export", in: "export GOPATH=/work && go mod download", env: debianEnv,
	caches: []string{"/work/pkg/mod shared 0:0"},
}, {
	name: "GOPATH with two entries", in: "go mod download", env: []string{"GOPATH=/gopath:/other"},
	caches: []string{"/gopath/pkg/mod shared 0:0"},
}, {
	name: "relative GOPATH", in: "GOPATH=gopath go mod download", env: golangEnv,
	notes: []string{"go: skipped: modcache: GOPATH=gopath is not an absolute path"},
}, {
	name: "non-literal GOCACHE", in: "export GOCACHE=$(mktemp -d); go build .", env: golangEnv,
	caches: []string{goMod}, notes: []string{"go: skipped: build cache: GOCACHE is not a literal"},
}, {
	name: "GOCACHE=off", in: "GOCACHE=off go build .", env: golangEnv,
	caches: []string{goMod}, notes: []string{"go: skipped: build cache: GOCACHE=off"},
}, {
	name: "go env -w GOMODCACHE", in: "go env -w GOPROXY=https://goproxy.cn,direct GOMODCACHE=/modcache && go mod download",
	env: golangEnv, caches: []string{"/modcache shared 0:0"},
}, {
	name: "go clean -modcache after download", in: "go mod download && go build -o /app . && go clean -modcache -cache",
	env: golangEnv, out: "go mod download && go build -o /app . && true", caches: goBoth,
	notes: []string{"go: removed `go clean -modcache -cache`"},
}, {
	name: "go clean of a cache this step doesn't mount keeps that flag",
	in:   "go mod download && go clean -cache -modcache", env: golangEnv,
	out: "go mod download && go clean -cache", caches: []string{goMod},
	notes: []string{"go: dropped -modcache from `go clean -cache -modcache`"},
}, {
	name: "go clean alone", in: "go clean -modcache", env: golangEnv, none: true,
}, {
	name: "numeric user: module cache owned by it, build cache needs a home",
	in:   "go build ./...", user: "1000:1000", env: golangEnv,
	caches: []string{"/go/pkg/mod shared 1000:1000"}, notes: []string{"go: skipped: build cache: home of user 1000:1000 unknown"},
}, {
	name: "xx-go build (buildx)", in: `xx-go build -trimpath ${GO_EXTRA_FLAGS} -ldflags "-s -w $(cat /tmp/.ldflags)" -o /usr/bin/docker-buildx ./cmd/buildx`,
	env: golangEnv, caches: goBoth,
}, {
	name: "go -C dir build", in: "go -C ./tools build -o /bin/tool .", env: golangEnv, caches: goBoth,
}, {
	name: "rm -rf /root/.cache takes the build cache's mountpoint", in: "go build -o /app . && rm -rf /root/.cache",
	env: golangEnv, caches: []string{goMod},
	notes: []string{"skipped /root/.cache/go-build: `rm -rf /root/.cache` would remove the mountpoint"},
}, {
	name: "rm of $(go env GOCACHE)", in: "go build -o /app . && rm -rf $(go env GOCACHE)", env: golangEnv, cwd: "/src",
	notes: []string{"skipped /go/pkg/mod: `rm -rf $(go env GOCACHE)` may remove it"},
}, {
	name: "compose: go mod tidy with mkdir", in: "go mod tidy && mkdir /out && cp go.mod go.sum /out", env: golangEnv,
	caches: []string{goMod},
}, {
	name: "heredoc RUN (buildx gotestsum)",
	in:   "  set -ex\n  go install \"gotest.tools/gotestsum@${GOTESTSUM_VERSION}\"\n  go install \"github.com/wadey/gocovmerge@latest\"\n  mkdir /out\n",
	env:  golangEnv, caches: goBoth,
}, {
	name: "WORKDIR inside a would-be cache", in: "go build .", env: []string{"GOPATH=/src"}, cwd: "/src/pkg/mod/x",
	caches: []string{goBuild}, notes: []string{"skipped /src/pkg/mod: it holds the working directory"},
}, {
	name: "sudo -u with a numeric user", in: "sudo -u '#1000' -E go mod download", env: golangEnv,
	caches: []string{"/go/pkg/mod shared 1000:0"},
}}
