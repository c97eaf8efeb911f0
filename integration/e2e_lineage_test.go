//go:build e2e

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// goFixture is the Go project of fixtures (go.mod, go.sum, main.go).
var goFixture = fixtures[3]

// TestBaseImageWithWarmModuleCache: a base image that ships its modules in
// /go/pkg/mod. autocache must not mount an empty cache over them: the build
// downloads nothing and gives upstream's image, module cache included.
func TestBaseImageWithWarmModuleCache(t *testing.T) {
	e := newEngine(t)
	warm := fmt.Sprintf("%s/e2e-lineage/warm:%s", os.Getenv("AUTOCACHE_REGISTRY"), e.runID)
	dir := t.TempDir()
	goFixture.files(t, e, dir, 3)
	// The base image, built upstream so the modules are in its layers.
	writeDockerfile(t, e, dir, upstream, "FROM golang:1.26\nARG E2E_RUN\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n")
	if out, err := e.build(t, buildSpec{dir: dir, mode: upstream, args: map[string]string{"E2E_RUN": e.runID}, push: warm}); err != nil {
		t.Fatalf("base image: %v\n%s", err, tail(out, 20))
	}
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		writeDockerfile(t, e, dir, mode, "FROM "+warm+"\nCOPY main.go .\nRUN CGO_ENABLED=0 go build -o /usr/local/bin/app .\n")
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		before := e.counts(t)["go"]
		args := map[string]string{"BUILDKIT_CACHE_MOUNT_NS": "e2e-warm-" + e.runID}
		if out, err := e.build(t, buildSpec{dir: dir, mode: mode, args: args, tarOut: tars[mode]}); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, tail(out, 20))
		}
		if n := e.counts(t)["go"] - before; n != 0 {
			t.Errorf("%s: downloaded %d modules that the base image has", mode, n)
		}
	}
	// Only the build cache is cached; the image's modules are compared too.
	compareImages(t, tars[upstream], tars[viaSyntax], []string{"/root/.cache/go-build"}, volatile)
}

// TestUnrecognizedStepSeesTheModuleCache: `go mod download`, then `go build`
// hidden in a script. The script's step gets the same cache: it downloads
// nothing again, and a rebuild downloads only the new module.
func TestUnrecognizedStepSeesTheModuleCache(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	writeFile(t, dir, "build.sh", "#!/bin/sh\nset -e\nCGO_ENABLED=0 go build -o /usr/local/bin/app .\n")
	if err := os.Chmod(filepath.Join(dir, "build.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-script-" + e.runID}
	var got []int
	for _, n := range []int{3, 4} {
		goFixture.files(t, e, dir, n)
		writeDockerfile(t, e, dir, viaSyntax, "FROM golang:1.26\nARG E2E_RUN\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n"+
			"COPY main.go build.sh ./\nRUN ./build.sh\n")
		before := e.counts(t)["go"]
		if out, err := e.build(t, buildSpec{dir: dir, mode: viaSyntax, args: args}); err != nil {
			t.Fatalf("build with %d modules: %v\n%s", n, err, tail(out, 20))
		}
		got = append(got, e.counts(t)["go"]-before)
	}
	if got[0] != 3 || got[1] != 1 {
		t.Errorf("downloads %v, want [3 1]", got)
	}
}

// TestNetworkNoneBuildAfterDownload: `RUN --network=none go build` after
// `RUN go mod download` must not depend on a cache BuildKit may drop: the
// modules stay in the layers, as upstream.
func TestNetworkNoneBuildAfterDownload(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	goFixture.files(t, e, dir, 3)
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		writeDockerfile(t, e, dir, mode, "FROM golang:1.26\nARG E2E_RUN\nWORKDIR /src\nCOPY go.mod go.sum ./\nRUN go mod download\n"+
			"COPY main.go .\nRUN --network=none CGO_ENABLED=0 go build -o /usr/local/bin/app .\n")
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-netnone-" + e.runID}
		if out, err := e.build(t, buildSpec{dir: dir, mode: mode, args: args, tarOut: tars[mode]}); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, tail(out, 20))
		}
	}
	// /go/pkg/mod is not a cached directory here: it must be upstream's.
	compareImages(t, tars[upstream], tars[viaSyntax], []string{"/root/.cache/go-build"}, volatile)
	if readTar(t, tars[viaSyntax])["/go/pkg/mod/acpkg.test/m003@v1.0.0/payload.bin"].Size == 0 {
		t.Errorf("the modules are missing from the image")
	}
}

// TestCredentialedFetchBeforeBuild: a script fetches the modules with a
// secret (here: the only proxy it may use), then `go build` runs with
// GOPROXY=off. Upstream, the build finds the modules in the layers. A cache
// over /go/pkg/mod on the build would hide them, and the build could not
// fetch them again: autocache leaves that directory alone after a step with
// a secret, and the image is upstream's.
func TestCredentialedFetchBeforeBuild(t *testing.T) {
	e := newEngine(t)
	dir := t.TempDir()
	goFixture.files(t, e, dir, 3)
	writeFile(t, dir, "fetch-deps.sh", "#!/bin/sh\nset -e\nGOPROXY=\"$(cat /run/secrets/proxy)\" go mod download\n")
	secret := filepath.Join(t.TempDir(), "proxy")
	if err := os.WriteFile(secret, []byte(e.pkgserver+"/goproxy"), 0o600); err != nil {
		t.Fatal(err)
	}
	tars := map[string]string{}
	for _, mode := range []string{upstream, viaSyntax} {
		writeDockerfile(t, e, dir, mode, "FROM golang:1.26\nARG E2E_RUN\nENV GOPROXY=off\nWORKDIR /src\nCOPY go.mod go.sum fetch-deps.sh ./\n"+
			"RUN --mount=type=secret,id=proxy sh ./fetch-deps.sh\n"+
			"COPY main.go .\nRUN CGO_ENABLED=0 go build -o /usr/local/bin/app .\n")
		tars[mode] = filepath.Join(t.TempDir(), "image.tar")
		args := map[string]string{"E2E_RUN": e.runID, "BUILDKIT_CACHE_MOUNT_NS": "e2e-secret-" + e.runID}
		if out, err := e.build(t, buildSpec{dir: dir, mode: mode, args: args, tarOut: tars[mode], secrets: map[string]string{"proxy": secret}}); err != nil {
			t.Fatalf("%s: %v\n%s", mode, err, tail(out, 20))
		}
	}
	// /go/pkg/mod is not a cached directory here: it must be upstream's.
	compareImages(t, tars[upstream], tars[viaSyntax], []string{"/root/.cache/go-build"}, volatile)
	if readTar(t, tars[viaSyntax])["/usr/local/bin/app"].Size == 0 {
		t.Errorf("the binary is missing from the image")
	}
}
